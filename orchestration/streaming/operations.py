"""Jobs that operate the Flink job: upgrade to new SQL through a savepoint, periodic savepoints and pruning."""

from dagster import (
    AssetMaterialization,
    AssetObservation,
    Config,
    DefaultScheduleStatus,
    Failure,
    OpExecutionContext,
    ScheduleDefinition,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from orchestration.resources import FlinkResource, KafkaResource, PostgresResource, platform_settings
from orchestration.streaming.assets import JOB_ASSET, job_metadata, submit_job


class UpgradeConfig(Config):
    sql_dir: str | None = Field(None, description="Directory of the new SQL (default: flink_jobs/sql as deployed).")
    force: bool = Field(False, description="Upgrade even when the running job already runs this SQL version.")


@op(
    description="Stop the running Flink job with a final savepoint (no record is processed after it), unless it "
    "already runs the target SQL version. Output: the savepoint path, or nothing when no upgrade is needed."
)
def stop_with_savepoint(context: OpExecutionContext, config: UpgradeConfig, flink: FlinkResource) -> dict:
    from flink_jobs import deploy, runner, savepoints

    settings = platform_settings(flink=flink)
    target = runner.sql_version(config.sql_dir) if config.sql_dir else runner.sql_version()
    job_id = flink.rest.active_job(flink.job_name)
    if job_id is None:
        raise Failure(f"No active job named {flink.job_name}: nothing to upgrade (materialize flink_analytics_job).")
    current = deploy.job_sql_version(settings, job_id)
    if current == target and not config.force:
        context.log.info(f"Job {job_id} already runs SQL {target}: no upgrade needed.")
        return {"savepoint": None, "sql_dir": config.sql_dir, "old_job_id": job_id, "old_sql_version": current}
    context.log.info(f"Stopping job {job_id} (SQL {current}) with a savepoint, to start SQL {target}.")
    savepoint = savepoints.stop_with_savepoint(settings, job_id)
    context.log.info(f"Job {job_id} stopped; savepoint {savepoint}")
    return {"savepoint": savepoint, "sql_dir": config.sql_dir, "old_job_id": job_id, "old_sql_version": current}


@op(
    description="Start the job with the new SQL from the savepoint just taken; records the deployment as a "
    "materialization of flink_analytics_job (job id, SQL version, savepoint)."
)
def start_from_savepoint(
    context: OpExecutionContext,
    stopped: dict,
    flink: FlinkResource,
    kafka: KafkaResource,
    postgres: PostgresResource,
) -> str | None:
    if stopped["savepoint"] is None:
        return None
    try:
        job_id = submit_job(flink, kafka, postgres, stopped["savepoint"], stopped["sql_dir"])
    except Exception:
        context.log.error(
            f"The new SQL did not start from {stopped['savepoint']}. The old state is intact in that savepoint: "
            "materialize flink_analytics_job with start_from set to it (and the old SQL) to roll back."
        )
        raise
    metadata = job_metadata(flink, job_id, stopped["savepoint"], "upgraded")
    metadata["previous_job_id"] = stopped["old_job_id"]
    metadata["previous_sql_version"] = stopped["old_sql_version"] or "unknown"
    context.log_event(AssetMaterialization(asset_key=JOB_ASSET, metadata=metadata))
    context.log.info(f"Upgraded: job {job_id} runs SQL {metadata['sql_version']} from {stopped['savepoint']}")
    return job_id


@job(
    description="Upgrade the Flink job to new SQL without losing state: stop it with a savepoint, then start the "
    "new SQL from that savepoint. A no-op when the running job already has the SQL version (unless forced). The "
    "flink_job_health sensor holds back while this runs.",
    executor_def=in_process_executor,
    tags={"domain": "streaming"},
)
def upgrade_flink_job() -> None:
    start_from_savepoint(stop_with_savepoint())


class RetentionConfig(Config):
    take_savepoint: bool = Field(True, description="Take a savepoint of the running job before pruning.")


@op(
    description="Take a savepoint of the running job (it keeps running), then delete checkpoint folders of jobs "
    "that stopped and savepoints beyond the newest STREAMPULSE_FLINK_SAVEPOINTS_KEPT, once older than "
    "STREAMPULSE_FLINK_RETENTION_HOURS. The restore point the job would resume from is never deleted."
)
def savepoint_and_prune(context: OpExecutionContext, config: RetentionConfig, flink: FlinkResource) -> dict:
    from flink_jobs import savepoints

    settings = platform_settings(flink=flink)
    if settings.flink_external:
        # Retention deletes local folders; an external cluster's state is on its own storage.
        raise Failure(f"Flink is external ({flink.rest_url}): prune its state with the cluster's own retention.")
    job_id = flink.rest.active_job(flink.job_name)
    savepoint = None
    if config.take_savepoint and job_id:
        savepoint = savepoints.trigger_savepoint(settings, job_id)
        context.log.info(f"Savepoint of {job_id}: {savepoint}")
    elif config.take_savepoint:
        context.log.warning(f"No active job named {flink.job_name}: no savepoint taken.")
    keep = {p for p in (savepoint, savepoints.latest_restore_point(settings, flink.job_name)) if p}
    removed = savepoints.prune_retained_state(
        settings, settings.flink_retention_hours * 3600, settings.flink_savepoints_kept, frozenset(keep)
    )
    for path in removed:
        context.log.info(f"Pruned {path}")
    summary = {"savepoint": savepoint or "none", "pruned": len(removed), "kept_restore_points": sorted(keep)}
    context.log_event(AssetObservation(asset_key=JOB_ASSET, metadata=summary))
    return summary


@job(
    description="Take a savepoint of the Flink job and prune old checkpoints and savepoints by the retention "
    "settings (STREAMPULSE_FLINK_RETENTION_HOURS, STREAMPULSE_FLINK_SAVEPOINTS_KEPT).",
    executor_def=in_process_executor,
    tags={"domain": "streaming"},
)
def flink_savepoint_and_prune() -> None:
    savepoint_and_prune()


flink_savepoint_schedule = ScheduleDefinition(
    name="flink_savepoint_schedule",
    job=flink_savepoint_and_prune,
    cron_schedule="0 */6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 6 hours: a savepoint of the Flink job (a restore point that survives checkpoint "
    "retention and cluster loss) and pruning of checkpoints and savepoints past their retention.",
)
