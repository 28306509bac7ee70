-- Source: content events from Kafka, Avro in the schema registry's wire format.
-- The topic is read as raw bytes and decoded by a Java function (flink_jobs/udf, DecodeContentEvent):
-- it resolves each record's writer schema by the id in its header (v1 and v2 producers can write at
-- the same time; fields are taken by name, v1 records read `referrer` as NULL), and instead of failing
-- the job on a record it cannot decode (corrupt bytes, an unknown schema id) it returns the reason,
-- and the record goes to the dead-letter table with its raw bytes (05_views.sql, 10_insert_all.sql).
-- Watermark: events may arrive up to ${watermark_delay_s} s out of order (bounded out-of-orderness).
-- A record that cannot be decoded has no event time: it gets the epoch, which never moves the
-- watermark. This watermark only fires windows; which events are late is decided per Kafka partition
-- from checkpointed state (05_views.sql), so that no fault, restore or backlog changes it. No idle
-- timeout by default (${idle_timeout_s} s, 0 = off): an idle partition that let the watermark run ahead
-- would have its on-time events dropped by windows that already fired (docs/operations.md).
CREATE TEMPORARY SYSTEM FUNCTION decode_content_event AS 'io.streampulse.flink.DecodeContentEvent' LANGUAGE JAVA;

CREATE TABLE content_events_raw (
    payload         BYTES,
    kafka_partition INT METADATA FROM 'partition' VIRTUAL,
    kafka_offset    BIGINT METADATA FROM 'offset' VIRTUAL,
    kafka_timestamp TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
    proc_time AS PROCTIME(),
    event_time AS COALESCE(decode_content_event(payload, '${registry_url}').event_time, TIMESTAMP '1970-01-01 00:00:00'),
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
    'value.format' = 'raw'
);

-- Every record with its decoding; the function runs once per record (it remembers its last input).
CREATE TEMPORARY VIEW decoded_events AS
SELECT payload, kafka_partition, kafka_offset, kafka_timestamp, event_time, proc_time,
       decode_content_event(payload, '${registry_url}') AS ev
FROM content_events_raw;

-- The events the queries read: every record that decoded.
CREATE TEMPORARY VIEW content_events AS
SELECT
    ev.event_id AS event_id, ev.event_type AS event_type, event_time, ev.content_id AS content_id,
    ev.content_type AS content_type, ev.user_id AS user_id, ev.session_id AS session_id, ev.region AS region,
    ev.device AS device, ev.os_version AS os_version, ev.network AS network, ev.cdn_node AS cdn_node,
    ev.bytes_sent AS bytes_sent, ev.duration_ms AS duration_ms, ev.ttfb_ms AS ttfb_ms, ev.throughput_kbps AS throughput_kbps,
    ev.error_code AS error_code, ev.price_minor AS price_minor, ev.currency AS currency, ev.referrer AS referrer,
    kafka_partition, kafka_offset, proc_time
FROM decoded_events
WHERE ev.decode_error IS NULL;

-- Records that did not decode, kept with their raw bytes and the reason.
CREATE TEMPORARY VIEW undecodable_records AS
SELECT '${events_topic}' AS kafka_topic, kafka_partition, kafka_offset,
       CAST(kafka_timestamp AS TIMESTAMP(3)) AS kafka_timestamp, ev.decode_error AS error,
       payload
FROM decoded_events
WHERE ev.decode_error IS NOT NULL;
