"""Reports domain: the daily BI report rendered from the marts, delivered to its recipients, and its schedule."""

from dagster import DefaultScheduleStatus, Definitions, build_schedule_from_partitioned_job, define_asset_job

from orchestration.reports.assets import daily_bi_report
from orchestration.reports.delivery import daily_bi_report_delivery

daily_bi_report_job = define_asset_job(
    "daily_bi_report_job",
    selection=[daily_bi_report, daily_bi_report_delivery],
    description="Render the daily BI report for one UTC day and deliver it to its recipients (pick the partition to "
    "make a past day's report); a delivery that fails fails the run.",
)

# 00:30 UTC, for the day that just ended: the hourly dbt build at 00:05 has folded its last hour into the marts.
daily_bi_report_schedule = build_schedule_from_partitioned_job(
    daily_bi_report_job,
    name="daily_bi_report_schedule",
    hour_of_day=0,
    minute_of_hour=30,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every day at 00:30 UTC: the previous day's BI report.",
)

defs = Definitions(
    assets=[daily_bi_report, daily_bi_report_delivery], jobs=[daily_bi_report_job], schedules=[daily_bi_report_schedule]
)
