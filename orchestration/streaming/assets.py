"""The streaming stages as assets: Kafka topic -> Flink job -> PostgreSQL real-time tables."""

from datetime import datetime, timezone

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from orchestration.resources import FlinkResource, PlatformSettings, PostgresResource

content_events_topic = AssetSpec(
    key="content_events_topic",
    group_name="streaming",
    kinds={"kafka", "avro"},
    description=(
        "Kafka topic of content events (downloads, streams, purchases), Avro in the schema registry's wire "
        "format. Written by the event generator; read by the Flink analytics job."
    ),
)


@asset(
    deps=[content_events_topic],
    group_name="streaming",
    kinds={"flink"},
    description=(
        "The long-running Flink SQL job (flink_jobs/sql). Materializing makes sure it runs: when it is not "
        "running it is submitted, resuming from the newest retained checkpoint. Metadata: job id, SQL version, "
        "the checkpoint it started from."
    ),
)
def flink_analytics_job(
    context: AssetExecutionContext, platform: PlatformSettings, flink: FlinkResource
) -> MaterializeResult:
    from flink_jobs import runner

    settings = platform.get()
    job_id = runner.find_running_job(settings)
    started_from = None
    if job_id is None:
        started_from = runner.latest_checkpoint(settings)
        context.log.info(f"Submitting {runner.JOB_NAME} from checkpoint {started_from or '(none)'}")
        job_id = runner.submit_in_subprocess(settings, from_checkpoint=started_from)
    else:
        context.log.info(f"{runner.JOB_NAME} is already running as {job_id}")
    state = flink.get(f"/jobs/{job_id}").get("state", "UNKNOWN")
    return MaterializeResult(
        metadata={
            "job_id": job_id,
            "state": state,
            "sql_version": runner.sql_version(),
            "started_from_checkpoint": started_from or "none",
            "flink_ui": MetadataValue.url(f"{settings.flink_url}/#/job/running/{job_id}/overview"),
        }
    )


content_minute_stats = AssetSpec(
    key="content_minute_stats",
    deps=[flink_analytics_job],
    group_name="streaming",
    kinds={"postgres"},
    description="realtime.content_minute_stats: events per content item per 1-minute tumbling window (UTC), "
    "upserted by the Flink job.",
)


@asset_check(asset="content_minute_stats", description="Fresh: the newest window ended less than 5 minutes ago.")
def content_minute_stats_fresh(postgres: PostgresResource) -> AssetCheckResult:
    with postgres.connect() as conn:
        newest, rows = conn.execute("select max(window_end), count(*) from realtime.content_minute_stats").fetchone()
    if newest is None:
        return AssetCheckResult(passed=False, metadata={"rows": 0}, description="No rows yet.")
    lag_s = (datetime.now(timezone.utc) - newest).total_seconds()
    return AssetCheckResult(
        passed=lag_s < 300, metadata={"rows": rows, "newest_window_end": newest.isoformat(), "lag_seconds": lag_s}
    )
