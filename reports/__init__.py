"""Daily BI reports: figures from the dbt marts rendered as one HTML page with charts, plus CSV extracts.

`build_daily_report(settings, day)` writes `<reports_dir>/YYYY-MM-DD/report.html` and `*.csv`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import psycopg

from reports.data import ReportData, load_report_data
from reports.render import render_html, write_report
from streampulse.settings import Settings

__all__ = ["ReportData", "build_daily_report", "load_report_data", "render_html", "write_report"]


def build_daily_report(
    settings: Settings, day: date, reports_dir: Path | None = None, generated_at: datetime | None = None
) -> tuple[ReportData, list[Path]]:
    """Read the day's figures from the marts and write the report folder; returns the data and the files."""
    with psycopg.connect(settings.dsn(), options="-c timezone=UTC") as conn:
        data = load_report_data(conn, day)
    return data, write_report(data, reports_dir or settings.reports_dir, generated_at)
