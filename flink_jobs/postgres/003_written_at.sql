-- When each window row first became visible in PostgreSQL (the sink inserts it when the watermark
-- closes its window; a replay after a restore updates it in place and keeps this time). Freshness
-- is written_at - window_end: the benchmark bench/flink_freshness.py and the freshness checks read it.
alter table realtime.content_minute_stats add column if not exists written_at timestamptz not null default clock_timestamp();
alter table realtime.content_region_minute_stats add column if not exists written_at timestamptz not null default clock_timestamp();
alter table realtime.trending add column if not exists written_at timestamptz not null default clock_timestamp();
alter table realtime.cdn_node_minute_stats add column if not exists written_at timestamptz not null default clock_timestamp();
alter table realtime.cdn_alerts add column if not exists written_at timestamptz not null default clock_timestamp();
