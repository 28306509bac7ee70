-- Tables the Flink job writes into. Idempotent: applied by `streampulse stack up` on every start.
-- Every table has the primary key the Flink JDBC sink upserts on, so a replay after a restore from
-- checkpoint rewrites the same rows instead of adding new ones. All times are UTC (timestamptz).
create schema if not exists realtime;

-- 1-minute tumbling window per content item.
create table if not exists realtime.content_minute_stats (
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    content_id    text        not null,
    event_count   bigint      not null,
    primary key (content_id, window_start)
);
create index if not exists content_minute_stats_window_idx on realtime.content_minute_stats (window_start);
