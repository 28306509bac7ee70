"""Streaming domain: the Flink job (deploy, health, upgrade, savepoints) and the real-time tables it writes."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from orchestration.streaming.assets import JOB_ASSET, cdn_anomalies_view, flink_analytics_job, realtime_tables
from orchestration.streaming.checks import (
    dead_letters_below_threshold,
    flink_checkpoint_recent,
    flink_consumer_lag,
    realtime_tables_fresh,
)
from orchestration.streaming.operations import (
    flink_savepoint_and_prune,
    flink_savepoint_schedule,
    upgrade_flink_job,
)
from orchestration.streaming.replay import reconciled_with_kafka, replay_time_range
from orchestration.streaming.sensors import deploy_flink_job, flink_job_health

check_realtime = define_asset_job(
    "check_realtime",
    # Reconciliation reads the whole topic: on demand, not every 10 minutes.
    selection=AssetSelection.checks_for_assets(JOB_ASSET, *[spec.key for spec in realtime_tables])
    - AssetSelection.checks(reconciled_with_kafka),
    description="Run the real-time health checks: table freshness, checkpoint age, Kafka consumer lag, dead letters.",
    tags={"domain": "streaming"},
    executor_def=in_process_executor,  # small queries: one process, not one per check
)

check_realtime_schedule = ScheduleDefinition(
    name="check_realtime_schedule",
    job=check_realtime,
    cron_schedule="*/10 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 10 minutes: the real-time health checks, so the asset graph shows a red check within "
    "minutes of a stale table, a stuck checkpoint, growing consumer lag or new dead letters.",
)

defs = Definitions(
    assets=[flink_analytics_job, *realtime_tables, cdn_anomalies_view],
    asset_checks=[
        realtime_tables_fresh,
        flink_checkpoint_recent,
        flink_consumer_lag,
        dead_letters_below_threshold,
        reconciled_with_kafka,
    ],
    jobs=[deploy_flink_job, upgrade_flink_job, flink_savepoint_and_prune, check_realtime, replay_time_range],
    sensors=[flink_job_health],
    schedules=[flink_savepoint_schedule, check_realtime_schedule],
)
