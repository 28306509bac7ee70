-- When each window row first became visible in PostgreSQL (the sink inserts it when the watermark
-- closes its window; a replay after a restore updates it in place and keeps this time). Freshness
-- is written_at - window_end: the benchmark bench/flink_freshness.py and the freshness checks read it.
-- Added without a default first, then given one: a volatile default on ADD COLUMN would rewrite
-- every existing row of a large table; this way old rows keep NULL and new rows get the time.
alter table realtime.content_minute_stats add column if not exists written_at timestamptz;
alter table realtime.content_minute_stats alter column written_at set default clock_timestamp();
alter table realtime.content_region_minute_stats add column if not exists written_at timestamptz;
alter table realtime.content_region_minute_stats alter column written_at set default clock_timestamp();
alter table realtime.trending add column if not exists written_at timestamptz;
alter table realtime.trending alter column written_at set default clock_timestamp();
alter table realtime.cdn_node_minute_stats add column if not exists written_at timestamptz;
alter table realtime.cdn_node_minute_stats alter column written_at set default clock_timestamp();
alter table realtime.cdn_alerts add column if not exists written_at timestamptz;
alter table realtime.cdn_alerts alter column written_at set default clock_timestamp();
