"""`python -m reports` (typer): options reach the renderer; a bad day is refused before any database work."""

from datetime import date
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from reports import cli


def test_options_reach_the_renderer(monkeypatch, tmp_path):
    calls = []

    def fake_build(settings, day, reports_dir):  # noqa: ANN001, ANN202
        calls.append((settings.database_name, day, reports_dir))
        return pd.DataFrame(), [reports_dir / str(day) / "report.html"]

    monkeypatch.setattr(cli, "build_daily_report", fake_build)
    args = ["--day", "2026-01-01", "--database", "test_keep", "--reports-dir", str(tmp_path)]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert calls == [("test_keep", date(2026, 1, 1), Path(tmp_path))]
    assert "2026-01-01: no data written to" in result.output


def test_a_malformed_day_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(cli, "build_daily_report", lambda *a: (_ for _ in ()).throw(AssertionError("called")))
    result = CliRunner().invoke(cli.app, ["--day", "2026-13-01"])
    assert result.exit_code == 2
