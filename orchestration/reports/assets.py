"""The daily BI report as a day-partitioned asset: one partition per UTC day, any past day on demand."""

from datetime import date
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from orchestration.resources import PostgresResource, platform_settings
from reports import build_daily_report

# Partitions start before the first data the platform has seen (the test and demo runs use 2026-01-01);
# the newest partition is yesterday: a day's report is made once the day is over.
daily = DailyPartitionsDefinition(start_date="2025-12-01", timezone="UTC")

MARTS_READ = ("daily_kpis", "content_hourly", "content_daily", "regional_trend_daily", "cdn_sla_daily", "revenue_daily")


class ReportConfig(Config):
    """Where the report folder goes (default: Settings.reports_dir, STREAMPULSE_REPORTS_DIR)."""

    reports_dir: str | None = None


@asset(
    partitions_def=daily,
    deps=[AssetKey(["marts", name]) for name in MARTS_READ],
    group_name="reports",
    kinds={"html", "csv"},
    description=(
        "The daily BI report for a content manager: headline KPIs against the previous day, top movers, "
        "regional trends, CDN incidents and service levels, revenue per currency, with charts. Written to "
        "`<reports_dir>/YYYY-MM-DD/report.html` with CSV extracts; listed and served by the API (/v1/reports)."
    ),
)
def daily_bi_report(
    context: AssetExecutionContext, config: ReportConfig, postgres: PostgresResource
) -> MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    settings = platform_settings(postgres=postgres)
    data, files = build_daily_report(settings, day, Path(config.reports_dir) if config.reports_dir else None)
    folder = files[0].parent
    today = data.today
    context.log.info(f"Report for {day} written to {folder} ({len(files)} files)")
    if today is None:
        context.log.warning(f"The marts hold no figures for {day}: the report says so")
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(folder / "report.html")),
            "files": MetadataValue.json([f.name for f in files]),
            "events": int(today["events"]) if today is not None else 0,
            "purchases": int(today["purchases"]) if today is not None else 0,
            "cdn_anomalies": int(today["cdn_anomalies"]) if today is not None else 0,
            "api_url": MetadataValue.url(f"/v1/reports/{day.isoformat()}/report.html"),
        }
    )
