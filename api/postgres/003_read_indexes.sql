-- Indexes for the API's hot reads (see docs/api.md, "Performance"). Idempotent.
--
-- Content stats read ~60 consecutive minutes of one item. The Flink job writes minute by minute, so one
-- item's rows are scattered over the heap: the primary key finds them, but each row costs a heap page
-- (65 buffers for 60 rows in the benchmark). A covering index answers the query from a couple of index
-- pages (index-only scan; the visibility map is kept current by autovacuum, as rows stop changing once
-- their window closed).
create index if not exists content_minute_stats_api_covering
    on realtime.content_minute_stats (content_id, window_start)
    include (window_end, events, downloads_started, downloads_completed, downloads_failed, streams_started,
             streams_ended, purchases, bytes_sent, distinct_users, ttfb_p95_ms);
