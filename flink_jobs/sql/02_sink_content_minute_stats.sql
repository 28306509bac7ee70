-- Sink: realtime.content_minute_stats in PostgreSQL (DDL in flink_jobs/postgres/).
-- The primary key makes the JDBC sink upsert (INSERT ... ON CONFLICT DO UPDATE): a replay after a
-- restore from checkpoint rewrites the same values, so results are exactly-once in effect.
CREATE TABLE content_minute_stats (
    window_start TIMESTAMP(3) NOT NULL,
    window_end   TIMESTAMP(3) NOT NULL,
    content_id   STRING NOT NULL,
    event_count  BIGINT NOT NULL,
    PRIMARY KEY (content_id, window_start) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = '${jdbc_url}',
    'table-name' = 'realtime.content_minute_stats',
    'username' = '${jdbc_user}',
    'password' = '${jdbc_password}',
    'sink.buffer-flush.interval' = '500ms',
    'sink.buffer-flush.max-rows' = '5000',
    'sink.max-retries' = '5'
);
