"""Notifications domain: the notifier's delivery log, checked every 5 minutes for failed or lagging deliveries."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from orchestration.notifications.checks import deliveries_healthy, deliveries_table

check_notifications = define_asset_job(
    "check_notifications",
    selection=AssetSelection.checks(deliveries_healthy),
    description="Check the notifier's delivery log: failed deliveries, deliveries waiting too long, consumer lag.",
    tags={"domain": "notifications"},
    executor_def=in_process_executor,
)

# Why a schedule: a receiver that is down shows only as rows that stay pending; nobody looks at a table, so
# the check turns red on the asset graph within minutes.
check_notifications_schedule = ScheduleDefinition(
    name="check_notifications_schedule",
    job=check_notifications,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 5 minutes: failed or lagging alert notifications turn the delivery log's check red.",
)

defs = Definitions(
    assets=[deliveries_table],
    asset_checks=[deliveries_healthy],
    jobs=[check_notifications],
    schedules=[check_notifications_schedule],
)
