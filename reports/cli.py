"""`python -m reports`: render one day's BI report by hand (Dagster's `daily_bi_report` does it daily)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

import typer

from reports import build_daily_report
from streampulse.settings import get_settings

app = typer.Typer(
    help="Render a day's BI report (HTML and CSV) from the dbt marts; the marts must be built.",
    add_completion=False,
)


@app.command()
def render(
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help="UTC day to report.", show_default="yesterday"),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="Database on the platform's PostgreSQL server.", show_default="the platform database"),
    ] = None,
    reports_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the report folders.", show_default="STREAMPULSE_REPORTS_DIR, else .state/reports"
        ),
    ] = None,
) -> None:
    """Write <reports-dir>/YYYY-MM-DD/report.html and its CSV extracts, e.g. `python -m reports --day 2026-01-01`."""
    # The default is computed per call: yesterday is relative to when the command runs.
    report_day = day.date() if day else (datetime.now(timezone.utc) - timedelta(days=1)).date()
    settings = get_settings()
    if database:
        settings = settings.model_copy(update={"database_name": database})
    data, files = build_daily_report(settings, report_day, reports_dir)
    typer.echo(f"{report_day}: {'no data' if data.empty else 'report'} written to {files[0].parent}")
