"""Warehouse domain: the dbt project (dbt_project/) as assets, its tests as asset checks, an hourly build."""

from dagster import AssetSelection, DefaultScheduleStatus, Definitions, ScheduleDefinition, define_asset_job

from orchestration.warehouse.assets import streampulse_dbt_models

dbt_build_job = define_asset_job(
    "dbt_build",
    selection=AssetSelection.assets(streampulse_dbt_models),
    description="dbt build: every staging, intermediate and mart model with its tests and unit tests.",
)

# Five past the hour: the previous hour's last minute windows have been written by then (they close
# once the watermark passes, seconds after the minute); incremental marts re-read 3 hours anyway.
dbt_hourly = ScheduleDefinition(
    name="dbt_build_hourly",
    job=dbt_build_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Refresh the marts every hour (dbt build).",
)

defs = Definitions(assets=[streampulse_dbt_models], jobs=[dbt_build_job], schedules=[dbt_hourly])
