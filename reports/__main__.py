"""Render a day's report by hand: `python -m reports --day 2026-01-01` (the marts must be built)."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from reports import build_daily_report
from streampulse.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    parser.add_argument("--day", type=date.fromisoformat, default=yesterday, help="UTC day (default: yesterday)")
    parser.add_argument("--database", help="database on the platform's server (default: the platform database)")
    parser.add_argument("--reports-dir", type=Path, help="default: STREAMPULSE_REPORTS_DIR / .state/reports")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.database:
        settings = settings.model_copy(update={"database_name": args.database})
    data, files = build_daily_report(settings, args.day, args.reports_dir)
    print(f"{args.day}: {'no data' if data.empty else 'report'} written to {files[0].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
