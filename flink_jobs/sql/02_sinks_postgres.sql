-- Sinks: the real-time tables in PostgreSQL (their DDL, keys and indexes: flink_jobs/postgres/).
-- Every sink declares the table's primary key, so the JDBC sink upserts
-- (INSERT ... ON CONFLICT DO UPDATE): a replay after a restore from checkpoint rewrites the same
-- values instead of adding rows. With checkpoints in exactly-once mode that makes every table
-- exactly-once in effect. Times are UTC (the cluster runs with -Duser.timezone=UTC).
-- ${jdbc_sink_options} (flink_jobs/runner.py) holds the options every sink shares: connection and flushing.
-- ${realtime_schema} is `realtime`, or a replay's versioned schema `realtime_v<N>` (flink_jobs/replay.py).

CREATE TABLE content_minute_stats (
    content_id          STRING NOT NULL,
    window_start        TIMESTAMP(3) NOT NULL,
    window_end          TIMESTAMP(3) NOT NULL,
    events              BIGINT NOT NULL,
    downloads_started   BIGINT NOT NULL,
    downloads_completed BIGINT NOT NULL,
    downloads_failed    BIGINT NOT NULL,
    streams_started     BIGINT NOT NULL,
    streams_ended       BIGINT NOT NULL,
    purchases           BIGINT NOT NULL,
    bytes_sent          BIGINT NOT NULL,
    distinct_users      BIGINT NOT NULL,
    ttfb_avg_ms         DOUBLE,
    ttfb_p95_ms         DOUBLE,
    PRIMARY KEY (content_id, window_start) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.content_minute_stats'
);

CREATE TABLE content_region_minute_stats (
    content_id          STRING NOT NULL,
    region              STRING NOT NULL,
    window_start        TIMESTAMP(3) NOT NULL,
    window_end          TIMESTAMP(3) NOT NULL,
    events              BIGINT NOT NULL,
    downloads_started   BIGINT NOT NULL,
    downloads_completed BIGINT NOT NULL,
    downloads_failed    BIGINT NOT NULL,
    streams_started     BIGINT NOT NULL,
    purchases           BIGINT NOT NULL,
    revenue_minor       BIGINT NOT NULL,
    currency            STRING,
    distinct_users      BIGINT NOT NULL,
    PRIMARY KEY (content_id, region, window_start) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.content_region_minute_stats'
);

CREATE TABLE trending (
    trend_scope   STRING NOT NULL,
    window_start  TIMESTAMP(3) NOT NULL,
    window_end    TIMESTAMP(3) NOT NULL,
    rank_no       BIGINT NOT NULL,
    content_id    STRING NOT NULL,
    events        BIGINT NOT NULL,
    recent_events BIGINT NOT NULL,
    earlier_events BIGINT NOT NULL,
    score         DOUBLE NOT NULL,
    PRIMARY KEY (trend_scope, window_end, rank_no) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.trending'
);

CREATE TABLE cdn_node_minute_stats (
    cdn_node        STRING NOT NULL,
    window_start    TIMESTAMP(3) NOT NULL,
    window_end      TIMESTAMP(3) NOT NULL,
    region          STRING NOT NULL,
    requests        BIGINT NOT NULL,
    errors          BIGINT NOT NULL,
    error_rate      DOUBLE NOT NULL,
    ttfb_p50_ms     DOUBLE,
    ttfb_p95_ms     DOUBLE,
    throughput_avg_kbps DOUBLE,
    bytes_sent      BIGINT NOT NULL,
    PRIMARY KEY (cdn_node, window_start) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.cdn_node_minute_stats'
);

-- Anomalies in two steps, each an append-only stream into its own table (no race between them):
-- cdn_alerts when a pattern is first seen (the third bad minute), cdn_incidents when it ends.
CREATE TABLE cdn_alerts (
    anomaly_kind STRING NOT NULL,
    subject      STRING NOT NULL,   -- edge node, or region for regional outages
    started_at   TIMESTAMP(3) NOT NULL,
    detected_at  TIMESTAMP(3) NOT NULL,
    region       STRING NOT NULL,
    peak_value   DOUBLE NOT NULL,
    severity     STRING NOT NULL,
    PRIMARY KEY (anomaly_kind, subject, started_at) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.cdn_alerts'
);

CREATE TABLE cdn_incidents (
    anomaly_kind STRING NOT NULL,
    subject      STRING NOT NULL,
    started_at   TIMESTAMP(3) NOT NULL,
    ended_at     TIMESTAMP(3) NOT NULL,
    region       STRING NOT NULL,
    bad_minutes  BIGINT NOT NULL,
    peak_value   DOUBLE NOT NULL,
    severity     STRING NOT NULL,
    PRIMARY KEY (anomaly_kind, subject, started_at) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.cdn_incidents'
);

-- Events that arrived after their window had closed (by their partition's clock, 05_views.sql): counted
-- per event-time minute, never silently dropped (they are excluded from the windows above).
CREATE TABLE late_events_minute (
    event_minute TIMESTAMP(3) NOT NULL,
    late_events  BIGINT NOT NULL,
    PRIMARY KEY (event_minute) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.late_events_minute'
);

-- ... and each of those events, by its Kafka coordinates (the reconciliation checks them one by one).
CREATE TABLE late_events (
    kafka_topic     STRING NOT NULL,
    kafka_partition INT NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    event_id        BIGINT NOT NULL,
    event_time      TIMESTAMP(3) NOT NULL,
    partition_clock TIMESTAMP(3) NOT NULL,
    PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.late_events'
);

-- Records that could not be decoded: raw bytes and the reason, one row per Kafka record.
CREATE TABLE dead_letters (
    kafka_topic     STRING NOT NULL,
    kafka_partition INT NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    kafka_timestamp TIMESTAMP(3),  -- UTC
    error           STRING NOT NULL,
    payload         BYTES,
    PRIMARY KEY (kafka_topic, kafka_partition, kafka_offset) NOT ENFORCED
) WITH (
    ${jdbc_sink_options}, 'table-name' = '${realtime_schema}.dead_letters'
);
