-- The API's database roles and its own table. Idempotent: applied by `streampulse stack up` and by tests.
--
-- The API logs in as the platform user and then switches, per pooled connection, with SET ROLE to one of
-- two NOLOGIN roles (see api/db.py): reads run as `streampulse_api_reader` (SELECT only, and every
-- transaction read-only), acknowledgements as `streampulse_api_writer` (may only insert/update
-- api.anomaly_acks). No extra password to generate, store or rotate; the privileges are PostgreSQL's.
do $$
begin
    create role streampulse_api_reader nologin;
exception when duplicate_object or unique_violation then null;  -- roles are cluster-wide; another database made it
end $$;
do $$
begin
    create role streampulse_api_writer nologin;
exception when duplicate_object or unique_violation then null;
end $$;
-- SET ROLE needs membership unless the login user is a superuser.
do $$
begin
    execute format('grant streampulse_api_reader, streampulse_api_writer to %I', current_user);
exception when others then null;  -- already a member, or a superuser
end $$;

-- Acknowledgements of CDN anomalies (realtime.* belongs to the Flink job: the API never writes there).
create table if not exists api.anomaly_acks (
    anomaly_kind    text        not null,
    subject         text        not null,
    started_at      timestamptz not null,
    acknowledged_at timestamptz not null default now(),
    acknowledged_by text        not null,  -- the key id (never the key)
    note            text,
    primary key (anomaly_kind, subject, started_at)
);

grant usage on schema api, realtime, catalog to streampulse_api_reader, streampulse_api_writer;
grant select on api.api_keys, api.anomaly_acks to streampulse_api_reader, streampulse_api_writer;
grant insert, update on api.anomaly_acks to streampulse_api_writer;
grant select on all tables in schema realtime, catalog to streampulse_api_reader;
grant select on realtime.cdn_alerts, realtime.cdn_incidents, realtime.cdn_anomalies to streampulse_api_writer;
-- Tables created later by this user (new real-time tables, dbt's marts) are readable too.
alter default privileges grant select on tables to streampulse_api_reader;
alter default privileges grant usage on schemas to streampulse_api_reader;
do $$
begin
    if exists (select 1 from pg_namespace where nspname = 'marts') then
        grant usage on schema marts to streampulse_api_reader;
        grant select on all tables in schema marts to streampulse_api_reader;
    end if;
end $$;
