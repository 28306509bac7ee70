-- Tables the Flink job writes into. Idempotent: applied by `streampulse stack up` on every start.
-- Every table has the primary key the Flink JDBC sink upserts on, so a replay after a restore from
-- checkpoint rewrites the same rows instead of adding new ones. All times are UTC (timestamptz).
-- Indexes serve the readers: the API and dashboard ask "this item / node / scope, this time range"
-- and "the newest windows".
create schema if not exists realtime;

-- 1-minute tumbling windows per content item.
create table if not exists realtime.content_minute_stats (
    content_id          text        not null,
    window_start        timestamptz not null,
    window_end          timestamptz not null,
    events              bigint      not null,
    downloads_started   bigint      not null,
    downloads_completed bigint      not null,
    downloads_failed    bigint      not null,
    streams_started     bigint      not null,
    streams_ended       bigint      not null,
    purchases           bigint      not null,
    bytes_sent          bigint      not null,
    distinct_users      bigint      not null,
    ttfb_avg_ms         double precision,  -- over events that fetched bytes (ttfb > 0)
    ttfb_p95_ms         double precision,  -- exact, linear interpolation (Flink PERCENTILE)
    primary key (content_id, window_start)
);
create index if not exists content_minute_stats_window_idx on realtime.content_minute_stats (window_start);

-- 1-minute tumbling windows per content item and region; revenue in the region's currency.
create table if not exists realtime.content_region_minute_stats (
    content_id          text        not null,
    region              text        not null,
    window_start        timestamptz not null,
    window_end          timestamptz not null,
    events              bigint      not null,
    downloads_started   bigint      not null,
    downloads_completed bigint      not null,
    downloads_failed    bigint      not null,
    streams_started     bigint      not null,
    purchases           bigint      not null,
    revenue_minor       bigint      not null,  -- minor units of `currency`
    currency            text,                  -- null when the window had no purchase
    distinct_users      bigint      not null,
    primary key (content_id, region, window_start)
);
create index if not exists content_region_minute_stats_window_idx
    on realtime.content_region_minute_stats (window_start, region);

-- Top N trending items per scope (a region code, or GLOBAL) per 5-minute window sliding by 1 minute.
create table if not exists realtime.trending (
    trend_scope    text        not null,
    window_start   timestamptz not null,
    window_end     timestamptz not null,
    rank_no        bigint      not null,
    content_id     text        not null,
    events         bigint      not null,
    recent_events  bigint      not null,  -- in the window's last 2 minutes
    earlier_events bigint      not null,  -- in its first 3 minutes (the trailing baseline)
    score          double precision not null,
    primary key (trend_scope, window_end, rank_no)
);
create index if not exists trending_window_idx on realtime.trending (window_end);

-- CDN health per edge node per minute (requests = downloads and stream starts).
create table if not exists realtime.cdn_node_minute_stats (
    cdn_node            text        not null,
    window_start        timestamptz not null,
    window_end          timestamptz not null,
    region              text        not null,
    requests            bigint      not null,
    errors              bigint      not null,
    error_rate          double precision not null,
    ttfb_p50_ms         double precision,
    ttfb_p95_ms         double precision,
    throughput_avg_kbps double precision,
    bytes_sent          bigint      not null,
    primary key (cdn_node, window_start)
);
create index if not exists cdn_node_minute_stats_window_idx on realtime.cdn_node_minute_stats (window_start);

-- Anomalies: an alert at the third bad minute, an incident row when it ends (same key).
create table if not exists realtime.cdn_alerts (
    anomaly_kind text        not null,  -- ERROR_RATE, LATENCY, REGIONAL_OUTAGE
    subject      text        not null,  -- edge node, or region for REGIONAL_OUTAGE
    started_at   timestamptz not null,
    detected_at  timestamptz not null,
    region       text        not null,
    peak_value   double precision not null,
    severity     text        not null,
    primary key (anomaly_kind, subject, started_at)
);
create table if not exists realtime.cdn_incidents (
    anomaly_kind text        not null,
    subject      text        not null,
    started_at   timestamptz not null,
    ended_at     timestamptz not null,
    region       text        not null,
    bad_minutes  bigint      not null,
    peak_value   double precision not null,
    severity     text        not null,
    primary key (anomaly_kind, subject, started_at)
);
create index if not exists cdn_alerts_detected_idx on realtime.cdn_alerts (detected_at);

-- One row per anomaly: open until its incident row arrives. The one definition of this join: the API,
-- the dashboard and dbt (stg_realtime__cdn_anomalies) all read the view.
create or replace view realtime.cdn_anomalies as
select
    a.anomaly_kind,
    a.subject,
    a.region,
    a.started_at,
    a.detected_at,
    i.ended_at,
    case when i.ended_at is null then 'OPEN' else 'RESOLVED' end as state,
    coalesce(i.peak_value, a.peak_value) as peak_value,
    coalesce(i.severity, a.severity) as severity,
    i.bad_minutes
from realtime.cdn_alerts a
left join realtime.cdn_incidents i using (anomaly_kind, subject, started_at);

-- Events that arrived after the watermark had passed their time, per event-time minute.
create table if not exists realtime.late_events_minute (
    event_minute timestamptz not null primary key,
    late_events  bigint      not null
);
