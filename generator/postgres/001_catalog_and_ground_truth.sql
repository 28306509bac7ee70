-- What the generator publishes besides events. Idempotent: applied by `streampulse stack up`.

-- The content catalog, joined by dbt and the API to name titles (dbt source: catalog.content).
create schema if not exists catalog;
create table if not exists catalog.content (
    content_id      text primary key,
    title           text        not null,
    content_type    text        not null,
    genre           text        not null,
    released_at     timestamptz not null,
    price_usd_cents bigint      not null check (price_usd_cents >= 0),
    popularity      double precision not null  -- Zipf base weight (share of traffic before time effects)
);
create index if not exists content_title_idx on catalog.content (lower(title) text_pattern_ops);

-- Ground truth: every generator run and every incident it injected, to score detectors against.
create schema if not exists ground_truth;
create table if not exists ground_truth.runs (
    run_id         text primary key,
    seed           bigint      not null,
    rate           double precision,
    topic          text        not null,
    schema_version int         not null,
    first_event_at timestamptz not null,
    started_at     timestamptz not null default now(),
    finished_at    timestamptz,
    produced       bigint,
    delivered      bigint,
    failed         bigint,
    effects        jsonb       -- per-scenario counts: events failed, slowed, duplicated, made late ...
);
create table if not exists ground_truth.incidents (
    run_id      text        not null references ground_truth.runs (run_id),
    incident_no int         not null,
    kind        text        not null,  -- cdn_outage, latency_degradation, viral_release, ...
    target      text        not null,  -- edge node, region, or content_id@region; '' for stream-wide
    starts_at   timestamptz not null,  -- event time
    ends_at     timestamptz not null,
    params      jsonb       not null,
    primary key (run_id, incident_no)
);
create index if not exists incidents_time_idx on ground_truth.incidents (starts_at, ends_at);
