"""The Kafka topic the generator writes and the Flink job reads, with a check on its registered schema."""

from dagster import AssetCheckResult, AssetSpec, asset_check

from orchestration.resources import KafkaResource, SchemaRegistryResource

content_events_topic = AssetSpec(
    key="content_events_topic",
    group_name="ingest",
    kinds={"kafka", "avro"},
    description=(
        "Kafka topic of content events (downloads, streams, purchases), Avro in the schema registry's wire "
        "format. Written by the event generator (the `run_generator` job or the demo generator), read by the "
        "Flink analytics job. A generator run records a materialization with what it delivered."
    ),
)


@asset_check(
    asset=content_events_topic.key,
    description="The topic's value schema is registered (subject <topic>-value): without it producers fail and "
    "Flink cannot decode records. Metadata: the latest schema version and id.",
)
def content_events_schema_registered(kafka: KafkaResource, schema_registry: SchemaRegistryResource) -> AssetCheckResult:
    subject = f"{kafka.events_topic}-value"
    if subject not in schema_registry.subjects():
        return AssetCheckResult(passed=False, description=f"No subject {subject} in the registry.")
    latest = schema_registry.latest_version(subject)
    return AssetCheckResult(
        passed=True, metadata={"subject": subject, "version": latest.get("version"), "schema_id": latest.get("id")}
    )
