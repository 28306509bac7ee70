"""Render a day's report by hand: `python -m reports --day 2026-01-01` (the marts must be built)."""

from reports.cli import app

if __name__ == "__main__":
    app(prog_name="python -m reports")
