-- Kafka records the job could not decode (corrupt bytes, an unknown schema id): kept with their raw
-- bytes and the reason, one row per record (the key makes a replay after a restore idempotent).
-- Readers: the dead-letter asset check in Dagster, the dashboard's pipeline page, reprocessing by hand.
create table if not exists realtime.dead_letters (
    kafka_topic     text        not null,
    kafka_partition integer     not null,
    kafka_offset    bigint      not null,
    kafka_timestamp timestamptz,
    error           text        not null,
    payload         bytea,
    recorded_at     timestamptz not null default now(),
    primary key (kafka_topic, kafka_partition, kafka_offset)
);
create index if not exists dead_letters_recorded_at on realtime.dead_letters (recorded_at);
