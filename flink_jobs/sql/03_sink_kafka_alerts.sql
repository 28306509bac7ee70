-- Alerts for other consumers: every opened and resolved CDN anomaly as JSON on a Kafka topic,
-- keyed by subject (node or region). Transactional (exactly-once): consumers reading with
-- isolation.level=read_committed see each alert once, after the checkpoint that contains it.
CREATE TABLE cdn_alerts_topic (
    subject      STRING NOT NULL,
    anomaly_kind STRING NOT NULL,
    state        STRING NOT NULL,  -- OPEN or RESOLVED
    started_at   TIMESTAMP(3) NOT NULL,
    at_time      TIMESTAMP(3) NOT NULL,  -- detected_at for OPEN, ended_at for RESOLVED
    region       STRING NOT NULL,
    peak_value   DOUBLE NOT NULL,
    severity     STRING NOT NULL
) WITH (
    'connector' = 'kafka',
    'topic' = '${alerts_topic}',
    'properties.bootstrap.servers' = '${bootstrap_servers}',
    'key.format' = 'raw',
    'key.fields' = 'subject',
    'value.format' = 'json',
    'value.json.timestamp-format.standard' = 'ISO-8601',
    'sink.delivery-guarantee' = 'exactly-once',
    'sink.transactional-id-prefix' = '${job_name}-alerts',
    'properties.transaction.timeout.ms' = '600000'
);
