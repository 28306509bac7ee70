-- Source: content events from Kafka, Avro in the schema registry's wire format.
-- The reader schema is the newest schemas/content_event*.avsc (enums read as STRING); the writer
-- schema of each record is fetched from the registry by the id in its header and resolved against
-- it, so v1 and v2 producers can write at the same time (v1 records read `referrer` as NULL).
-- Watermark: events may arrive up to ${watermark_delay_s} s out of order (bounded out-of-orderness).
-- A partition that delivers nothing for ${idle_timeout_s} s no longer holds the watermark back. The timeout
-- is long on purpose: while catching up under backpressure the source emits one partition's fetched
-- batch at a time, and a short timeout would mark the others idle, let the watermark run ahead and
-- turn their on-time events into late ones. Small fetches per partition keep those bursts short.
CREATE TABLE content_events (
    event_id        BIGINT NOT NULL,
    event_type      STRING NOT NULL,
    event_time      TIMESTAMP(3) NOT NULL,
    content_id      STRING NOT NULL,
    content_type    STRING NOT NULL,
    user_id         BIGINT NOT NULL,
    session_id      BIGINT NOT NULL,
    region          STRING NOT NULL,
    device          STRING NOT NULL,
    os_version      STRING NOT NULL,
    network         STRING NOT NULL,
    cdn_node        STRING NOT NULL,
    bytes_sent      BIGINT NOT NULL,
    duration_ms     INT NOT NULL,
    ttfb_ms         INT NOT NULL,
    throughput_kbps INT NOT NULL,
    error_code      STRING,
    price_minor     BIGINT NOT NULL,
    currency        STRING,
    referrer        STRING,
    WATERMARK FOR event_time AS event_time - INTERVAL '${watermark_delay_s}' SECOND
) WITH (
    'connector' = 'kafka',
    'topic' = '${events_topic}',
    'properties.bootstrap.servers' = '${bootstrap_servers}',
    'properties.group.id' = '${group_id}',
    'scan.startup.mode' = 'group-offsets',
    'properties.auto.offset.reset' = 'earliest',
    'scan.watermark.idle-timeout' = '${idle_timeout_s} s',
    'properties.max.partition.fetch.bytes' = '262144',
    'value.format' = 'avro-confluent',
    'value.avro-confluent.url' = '${registry_url}',
    'value.avro-confluent.schema' = '${event_schema}'
);
