"""The first run, in Chromium: a fresh state directory and an empty topic, then every page by its own URL.

What `streampulse stack up` does on a fresh `.state/` (streampulse/stack/first_run.py), on this test's own
topic, database and Flink job (the shared core stack; a second whole stack would cost minutes): the demo
history is generated, the marts are built with dbt, and the dashboard, started on the fresh state directory,
shows data on every page at its own address, freshness behind real time and never negative.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from generator.producer import EventProducer
from streampulse.stack import first_run
from tests.e2e.helpers import flink_job, send_clock
from tests.e2e.test_dashboard_browser import (  # noqa: F401 - chromium is a fixture
    assert_no_exception,
    browser_page,
    chromium,
    output_dir,
    screenshot_whole,
    streamlit_server,
    wait_until_idle,
)

pytestmark = pytest.mark.stack

PAGES = {  # URL path -> (heading, a text that only shows with data)
    "overview": ("Overview", "Events/s (newest minute)"),
    "trending": ("Trending", "Rank over the last 15 windows"),
    "content": ("Content", "Newest minute (UTC)"),
    "regions": ("Regions", "CDN error rate (%)"),
    "cdn": ("CDN health", "What it hit"),
    "bi": ("BI", "One row per UTC day: the headline KPIs."),
    "pipeline": ("Pipeline", "Data freshness"),
}
EMPTY = ["No data yet", "No marts yet", "Page not found", "ahead of real time"]


def test_first_run_shows_every_page(chromium, isolated, tmp_path) -> None:  # noqa: ANN001, F811
    state = tmp_path / "state"
    # The stack's secrets (the PostgreSQL password), this test's topic, database and report folder; the
    # dashboard below runs on the fresh state directory.
    settings = isolated.scoped_settings().model_copy(update={"reports_dir": state / "reports"})
    said: list[str] = []
    with flink_job(isolated):
        end = first_run.backfill_demo(settings, said.append)
        assert end is not None, said
        assert first_run.backfill_demo(settings, said.append) is None  # a topic with events is left alone
        # The live demo generator's first events close the history's last minute; here a clock event does.
        producer = EventProducer(settings, isolated.topic)
        send_clock(producer, end + timedelta(seconds=10))
        producer.flush()
        # As on the day after the history: yesterday (the history's day) has data, so its report is rendered.
        first_run.build_warehouse(settings, said.append, end, today=end.date() + timedelta(days=1))
    assert "BI marts built (dbt run)" in said, said
    assert (state / "reports" / end.date().isoformat() / "report.html").exists(), said
    with psycopg.connect(isolated.dsn()) as conn:
        newest = conn.execute("select max(window_end) from realtime.content_minute_stats").fetchone()[0]
        days = conn.execute("select day, events from marts.daily_kpis").fetchall()
        outage = conn.execute("select count(*) from realtime.cdn_anomalies where subject = 'edge-us-east-1'").fetchone()
    assert newest == end and sum(n for _, n in days) > 0 and outage[0] == 1
    assert end > datetime.now(timezone.utc) - timedelta(minutes=10)

    out = output_dir()
    with streamlit_server(isolated.dsn(), isolated.topic, state) as url, browser_page(chromium, url) as page:
        for path, (heading, text) in PAGES.items():
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=30_000)
            wait_until_idle(page)
            main = page.get_by_test_id("stMain")
            main.get_by_text(text).first.wait_for(timeout=30_000)
            shown = page.inner_text("body")
            assert not [e for e in EMPTY if e in shown], (path, [e for e in EMPTY if e in shown])
            assert_no_exception(page, f"/{path}")
            screenshot_whole(page, out / f"first_run_{path}.png")
        page.goto(f"{url}/overview")
        freshness = page.get_by_text(re.compile(r"Freshness: \d[\d,]* s( \([^)]*\))? behind real time")).first
        freshness.wait_for(timeout=30_000)  # a few seconds or minutes, never negative
