"""Delivering each day's report to its recipients once the report asset has materialized."""

from datetime import date
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from notifier.reports import ReportDeliveryError, deliver_report
from notifier.rules import load_config
from orchestration.reports.assets import daily, daily_bi_report
from streampulse.settings import get_settings


def report_folder(context: AssetExecutionContext, key: AssetKey, partition: str) -> Path:
    """The folder the report asset recorded for this day (its `path` metadata), wherever it was configured."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        raise Failure(f"No materialization of {key.to_user_string()} for {partition}: make the report first.")
    path = records[0].asset_materialization.metadata["path"].value
    return Path(path).parent


@asset(
    partitions_def=daily,
    deps=[daily_bi_report],
    group_name="reports",
    kinds={"email"},
    description=(
        "The day's report sent to the recipients of the notifications file's `reports:` section "
        "(STREAMPULSE_NOTIFICATIONS_FILE): by email, the page as its body and every file attached, and/or by "
        "signed webhook. A channel that does not take it after retries fails the run, naming the channel."
    ),
)
def daily_bi_report_delivery(context: AssetExecutionContext) -> MaterializeResult:
    settings = get_settings()
    config = load_config(settings.notifications_file)
    if config.reports is None:
        context.log.info("No report recipients configured (notifications file, `reports:`): nothing sent")
        return MaterializeResult(metadata={"delivered_to": MetadataValue.json([])})
    folder = report_folder(context, daily_bi_report.key, context.partition_key)
    try:
        delivered = deliver_report(settings, config, date.fromisoformat(context.partition_key), folder)
    except ReportDeliveryError as exc:
        raise Failure(description=str(exc), metadata={"folder": MetadataValue.path(str(folder))}) from None
    context.log.info(f"Report for {context.partition_key} delivered to {', '.join(delivered)}")
    return MaterializeResult(
        metadata={"delivered_to": MetadataValue.json(delivered), "folder": MetadataValue.path(str(folder))}
    )
