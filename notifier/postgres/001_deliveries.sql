-- The notifier's outbox and delivery log. Idempotent: applied by `streampulse stack up` and by tests.
--
-- One row per (notification, channel): the idempotency key is `<anomaly id>:<state>`, the same on every
-- retry and every re-read of the alerts topic, so a row is written once (unique key) and a receiver can
-- deduplicate on it. Rows are written in the transaction that precedes the Kafka offset commit, and sent
-- from here: a crash between the two re-reads the records and inserts nothing new (at least once, no loss).
create schema if not exists notifier;

create table if not exists notifier.deliveries (
    id              bigserial   primary key,
    idempotency_key text        not null,  -- KIND:SUBJECT:STARTED:STATE
    anomaly_id      text        not null,  -- KIND:SUBJECT:STARTED (as the API's /v1/anomalies/{id})
    state           text        not null check (state in ('OPEN', 'RESOLVED')),
    anomaly_kind    text        not null,
    subject         text        not null,
    region          text        not null,
    severity        text        not null,
    peak_value      double precision not null,
    started_at      timestamptz not null,
    at_time         timestamptz not null,  -- detected_at (OPEN) or ended_at (RESOLVED)
    route           text        not null,  -- the first routing rule that chose this channel
    channel         text        not null,  -- the channel's name in the rules file
    channel_type    text        not null check (channel_type in ('webhook', 'slack', 'email')),
    -- pending: to send at next_attempt_at; held: grouped under a cool-down, looked at again at next_attempt_at;
    -- delivered; suppressed (see reason); failed: the receiver refused it for good, or retries ran out.
    status          text        not null check (status in ('pending', 'held', 'delivered', 'suppressed', 'failed')),
    reason          text,
    attempts        integer     not null default 0,
    created_at      timestamptz not null default now(),
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    last_error      text,       -- never holds a secret or a webhook URL
    kafka_partition integer     not null,
    kafka_offset    bigint      not null,
    unique (idempotency_key, channel)
);
create index if not exists deliveries_due_idx on notifier.deliveries (next_attempt_at) where status in ('pending', 'held');
create index if not exists deliveries_group_idx on notifier.deliveries (channel, anomaly_kind, subject, at_time);
create index if not exists deliveries_anomaly_idx on notifier.deliveries (anomaly_id);

-- The API and the dashboard read the log as the API's read-only role.
do $$
begin
    grant usage on schema notifier to streampulse_api_reader;
    grant select on notifier.deliveries to streampulse_api_reader;
exception when undefined_object then null;  -- no API roles on this database
end $$;
