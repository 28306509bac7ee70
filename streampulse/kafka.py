"""Kafka consumer lag, computed one way for every reader (the Dagster asset check, the dashboard).

Flink's Kafka source commits its offsets (group = job name) when a checkpoint completes, so the lag of
the job's group is its lag as of the newest checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionLag:
    group: str
    partition: int
    end_offset: int  # the partition's log end offset (high watermark)
    committed: int | None  # None: the group committed nothing on this partition

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else self.end_offset - self.committed

    @property
    def behind(self) -> int:
        """Records the group has still to read; without a commit, everything the partition holds."""
        return self.end_offset - (self.committed or 0)


def consumer_lag(
    bootstrap_servers: str, topic: str, groups: list[str] | None = None, timeout_s: float = 10
) -> list[PartitionLag]:
    """Per consumer group (default: every group of the cluster) and partition of `topic`: end offset,
    committed offset, lag. LookupError when the topic does not exist; KafkaException when Kafka fails."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    metadata = admin.list_topics(topic, timeout=timeout_s)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        raise LookupError(f"topic {topic!r} not found on {bootstrap_servers}")
    partitions = sorted(metadata.topics[topic].partitions)
    ends = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.latest() for p in partitions},
                              request_timeout=timeout_s)  # fmt: skip
    end_offsets = {tp.partition: future.result().offset for tp, future in ends.items()}
    if groups is None:
        groups = sorted(g.group_id for g in admin.list_consumer_groups(request_timeout=timeout_s).result().valid)
    rows = []
    for group in groups:
        request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])]
        committed = admin.list_consumer_group_offsets(request, request_timeout=timeout_s)[group].result()
        offsets = {tp.partition: tp.offset for tp in committed.topic_partitions}
        for partition in partitions:
            offset = offsets.get(partition, -1)
            rows.append(PartitionLag(group, partition, end_offsets[partition], offset if offset >= 0 else None))
    return rows
