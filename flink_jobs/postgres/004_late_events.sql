-- Every event the job classified as late, one row per Kafka record (late_events_minute counts them
-- per minute). The reconciliation compares this set with its own classification record by record, so
-- an event misclassified as late (or one classified on time and then dropped) cannot hide.
-- partition_clock: the highest event time of the partition up to this record (what made it late).
create table if not exists realtime.late_events (
    kafka_topic     text        not null,
    kafka_partition integer     not null,
    kafka_offset    bigint      not null,
    event_id        bigint      not null,
    event_time      timestamptz not null,
    partition_clock timestamptz not null,
    recorded_at     timestamptz not null default clock_timestamp(),
    primary key (kafka_topic, kafka_partition, kafka_offset)
);
create index if not exists late_events_event_time on realtime.late_events (event_time);
