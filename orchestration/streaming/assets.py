"""The streaming stages as assets: the long-running Flink job and the real-time tables it writes."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from orchestration.resources import FlinkResource, KafkaResource, PostgresResource, platform_settings

JOB_ASSET = AssetKey("flink_analytics_job")


class DeployConfig(Config):
    start_from: str | None = Field(
        None, description="Checkpoint or savepoint path to start from (default: the job's latest retained state)."
    )
    sql_dir: str | None = Field(None, description="Directory of the job's SQL files (default: flink_jobs/sql).")


def submit_job(
    flink: FlinkResource,
    kafka: KafkaResource,
    postgres: PostgresResource,
    start_from: str | None,
    sql_dir: str | None = None,
) -> str:
    """Submit the analytics job (a PyFlink client in a subprocess) and wait until all its tasks run.

    The submission receives the Settings of these resources, so a per-run override of the Flink URL or the
    bootstrap servers reaches the submitted job (tests/unit/test_deploy.py)."""
    from flink_jobs import deploy

    settings = platform_settings(kafka, postgres, flink)
    spec = {"topic": kafka.events_topic, "database": postgres.database, "job_name": flink.job_name,
            "alerts_topic": kafka.alerts_topic, "from_checkpoint": start_from}  # fmt: skip
    if sql_dir:
        spec["sql_dir"] = sql_dir
    job_id = deploy.submit_in_subprocess(settings, **spec)
    try:
        deploy.wait_until_running(settings, job_id)
    except (RuntimeError, TimeoutError) as exc:
        raise Failure(str(exc)) from exc
    return job_id


def job_metadata(flink: FlinkResource, job_id: str, started_from: str | None, action: str) -> dict:
    from flink_jobs import deploy

    return {
        "job_id": job_id,
        "job_name": flink.job_name,
        "state": flink.rest.job_state(job_id),
        "sql_version": deploy.job_sql_version(platform_settings(flink=flink), job_id) or "unknown",
        "started_from": started_from or "none (empty state)",
        "action": action,
        "flink_ui": MetadataValue.url(flink.rest.ui_url(job_id)),
    }


@asset(
    key=JOB_ASSET,
    deps=["content_events_topic"],
    group_name="streaming",
    kinds={"flink"},
    description=(
        "The long-running Flink SQL job (flink_jobs/sql) that turns content events into the real-time tables. "
        "Materializing deploys it: when no job of this name is active it is submitted from its latest retained "
        "checkpoint or savepoint (or the one given in config); a running job is left as it is. Metadata: job id, "
        "SQL version (hash of the SQL files), the checkpoint/savepoint it started from. The flink_job_health "
        "sensor records its state, checkpoints, throughput and backpressure as observations."
    ),
)
def flink_analytics_job(
    context: AssetExecutionContext,
    config: DeployConfig,
    flink: FlinkResource,
    kafka: KafkaResource,
    postgres: PostgresResource,
) -> MaterializeResult:
    from flink_jobs import savepoints

    settings = platform_settings(kafka, postgres, flink)
    running = flink.rest.active_job(flink.job_name)
    if running:
        context.log.info(f"{flink.job_name} is already running as {running}; nothing to deploy.")
        restored = flink.rest.checkpoint_stats(running).restored_path
        return MaterializeResult(metadata=job_metadata(flink, running, restored, "none"))
    start_from = config.start_from or savepoints.latest_restore_point(settings, flink.job_name)
    if start_from is None:
        # After a JobManager restart the REST API forgets earlier runs: the newest checkpoint on disk in
        # this job name's own folder (local cluster).
        start_from = savepoints.latest_checkpoint(settings, flink.job_name)
    context.log.info(f"Submitting {flink.job_name} from {start_from or 'empty state'}")
    job_id = submit_job(flink, kafka, postgres, start_from, config.sql_dir)
    context.log.info(f"{flink.job_name} runs as {job_id}")
    return MaterializeResult(metadata=job_metadata(flink, job_id, start_from, "submitted"))


# The tables the job writes, keyed like dagster-dbt keys the dbt source `realtime` (so dbt models
# hang below them): [realtime, <table>].
REALTIME_TABLES = {
    "content_minute_stats": "Events per content item per 1-minute tumbling window (UTC).",
    "content_region_minute_stats": "Events, purchases and revenue per content item and region per minute.",
    "trending": "Top-N content per region and globally, 5-minute windows sliding every minute.",
    "cdn_node_minute_stats": "Requests, error rate and time-to-first-byte percentiles per CDN edge node per minute.",
    "cdn_alerts": "CDN anomalies (MATCH_RECOGNIZE over bad minutes) as they open and resolve.",
    "cdn_incidents": "One row per CDN anomaly with its start, end and peak.",
    "late_events_minute": "Events that arrived after the watermark passed their window, per minute.",
    "dead_letters": "Kafka records the job could not decode (raw bytes, error, topic/partition/offset).",
}
WINDOWED_TABLES = ("content_minute_stats", "content_region_minute_stats", "trending", "cdn_node_minute_stats")

realtime_tables = [
    AssetSpec(
        key=AssetKey(["realtime", name]),
        deps=[JOB_ASSET],
        group_name="realtime",
        kinds={"postgres"},
        description=f"realtime.{name}: {text} Upserted by the Flink job, exactly once in effect.",
    )
    for name, text in REALTIME_TABLES.items()
]

# The one definition of the alert/incident join (a view, flink_jobs/postgres/001_realtime_schema.sql): the
# API and the dashboard read it, and so does dbt (stg_realtime__cdn_anomalies hangs below this key).
cdn_anomalies_view = AssetSpec(
    key=AssetKey(["realtime", "cdn_anomalies"]),
    deps=[AssetKey(["realtime", "cdn_alerts"]), AssetKey(["realtime", "cdn_incidents"])],
    group_name="realtime",
    kinds={"postgres"},
    description="realtime.cdn_anomalies: view, one row per CDN anomaly, its alert joined with its incident "
    "row once it has ended (OPEN until then).",
)
