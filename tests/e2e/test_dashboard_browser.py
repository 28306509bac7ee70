"""The dashboard in a real browser: Playwright drives Debian's Chromium against a real Streamlit server.

The server runs on a free loopback port, pointed at a database filled by the real pipeline. No browser is
downloaded: `infra/setup.sh` installs Debian's `chromium`, and Playwright launches that executable.
Screenshots go to `.state/test-output/dashboard/` (or `$STREAMPULSE_TEST_OUTPUT/dashboard/`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psycopg
import pytest

from streampulse.settings import REPO_ROOT, get_settings
from streampulse.waiting import wait_until
from tests.e2e.conftest import PipelineRun
from tests.e2e.helpers import flink_job

pytestmark = pytest.mark.stack

CHROMIUM = "/usr/bin/chromium"
PAGES = {  # sidebar label -> (page title, texts that must be on the page)
    "Overview": ("Overview", ["Events/s (newest minute)", "Delivery success rate", "behind real time"]),
    "Trending": ("Trending", ["How the score works", "Rank over the last 15 windows"]),
    "Content": ("Content", ["Find a title", "Newest minute (UTC)", "Delivery quality"]),
    "Regions": ("Regions", ["CDN error rate (%)"]),
    "CDN health": ("CDN health", ["Edge nodes per minute", "Latency percentiles", "Anomalies"]),
    "BI": ("BI", ["Marts", "Reports"]),
    "Pipeline": ("Pipeline", ["Analytics job (Flink)", "Checkpoint age", "Kafka lag", "Dead letters"]),
}

URL_PATHS = {"": "Overview", "overview": "Overview", "trending": "Trending", "content": "Content",
             "regions": "Regions", "cdn": "CDN health", "bi": "BI", "pipeline": "Pipeline"}  # fmt: skip


def output_dir() -> Path:
    base = Path(os.environ.get("STREAMPULSE_TEST_OUTPUT", REPO_ROOT / ".state" / "test-output"))
    path = base / "dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(dsn: str, topic: str, state_dir: Path | None = None) -> Iterator[str]:
    """`streamlit run` as the stack starts it, on a free 127.0.0.1 port, reading `dsn` (and, given one, with
    its own state directory); stopped afterwards."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=dsn, STREAMPULSE_EVENTS_TOPIC=topic, PYTHONUNBUFFERED="1")
    if state_dir is not None:
        env |= {"STREAMPULSE_STATE_DIR": str(state_dir), "STREAMPULSE_REPORTS_DIR": str(state_dir / "reports")}
    log = output_dir() / f"streamlit-{port}.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "streamlit_app" / "streamlit_app.py"),
        "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, f"streamlit exited early, see {log}"  # not retried: stops the wait
        return httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200

    try:
        try:
            wait_until(healthy, "streamlit becoming healthy", 60, interval_s=0.5, retry_on=(httpx.HTTPError,))
        except TimeoutError:
            pytest.fail(f"streamlit did not become healthy, see {log}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def chromium():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run `make setup` (infra/setup.sh installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@contextmanager
def browser_page(chromium, url: str) -> Iterator:  # noqa: ANN001
    """A fresh page on `url` that records uncaught JavaScript errors in `page.js_errors`."""
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(url)
    page.get_by_test_id("stSidebarNav").wait_for(timeout=60_000)
    try:
        yield page
    finally:
        context.close()


def wait_until_idle(page, timeout_s: float = 60) -> None:  # noqa: ANN001
    """Until Streamlit has finished running the script (its status widget says nothing for 1.5 s)."""
    quiet_since: float | None = None

    def quiet_long_enough() -> bool:
        nonlocal quiet_since
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        skeleton = page.locator('[data-testid="stSkeleton"]').count() > 0
        if running or skeleton:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        return quiet_since is not None and time.monotonic() - quiet_since > 1.5

    try:
        wait_until(quiet_long_enough, "the page to finish running", timeout_s, interval_s=0.25)
    except TimeoutError:
        pytest.fail("the page kept running")


def screenshot_whole(page, path: Path) -> None:  # noqa: ANN001
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to its height first."""
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 6000))})

    # Charts outside the viewport are drawn lazily: wait until every one has drawn after the resize (at most
    # 15 s: a chart that never draws still leaves a screenshot to look at).
    def all_drawn() -> bool:
        embeds = page.locator(".vega-embed").count()
        return page.locator(".vega-embed:has(canvas), .vega-embed:has(svg.marks)").count() >= embeds

    with contextlib.suppress(TimeoutError):
        wait_until(all_drawn, "every chart drawn", 15, interval_s=0.5)
    time.sleep(1.5)
    page.screenshot(path=path)
    page.set_viewport_size(size)


def assert_no_exception(page, where: str) -> None:  # noqa: ANN001
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{where}: {exceptions.first.inner_text()}"
    assert not page.js_errors, f"{where}: JavaScript errors {page.js_errors}"


@pytest.fixture(scope="module")
def served_pipeline_run(pipeline_run: PipelineRun) -> Iterator[str]:
    with streamlit_server(pipeline_run.dsn, pipeline_run.isolated.topic) as url:
        yield url


def test_every_page_renders_in_chromium(chromium, served_pipeline_run: str, pipeline_run: PipelineRun) -> None:  # noqa: ANN001
    out = output_dir()
    with browser_page(chromium, served_pipeline_run) as page:
        for label, (title, texts) in PAGES.items():
            page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True).click()
            page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
            wait_until_idle(page)
            main = page.get_by_test_id("stMain")
            for text in texts:
                main.get_by_text(text).first.wait_for(timeout=30_000)
            if label not in ("BI", "Pipeline"):
                # Charts are drawn (Vega renders into canvas or svg inside its embed element).
                page.locator(".vega-embed").first.wait_for(timeout=30_000)
                assert page.locator(".vega-embed canvas, .vega-embed svg").count() > 0, label
            assert_no_exception(page, label)
            name = label.lower().replace(" ", "_")
            if os.environ.get("STREAMPULSE_DOCS_SCREENSHOTS") == "1":  # the pictures in docs/dashboard.md
                page.screenshot(path=REPO_ROOT / "docs" / "images" / f"dashboard_{name}.png")
            screenshot_whole(page, out / f"page_{name}.png")

        # Every page by its own address too (a bookmark): rendered once, without an exception.
        for path, title in URL_PATHS.items():
            page.goto(f"{served_pipeline_run}/{path}")
            page.get_by_role("heading", name=title, exact=True).wait_for(timeout=30_000)
            wait_until_idle(page)
            assert page.get_by_role("heading", level=1).count() == 1, f"/{path} rendered more than once"
            assert_no_exception(page, f"/{path}")

        # Key content, not just headings: the overview's figures and the pipeline's links.
        page.get_by_test_id("stSidebarNav").get_by_text("Overview", exact=True).click()
        wait_until_idle(page)
        values = page.get_by_test_id("stMetricValue").all_inner_texts()
        assert any(v.endswith("events/s") for v in values) and any(v.endswith("titles") for v in values)
        page.get_by_test_id("stSidebarNav").get_by_text("Pipeline", exact=True).click()
        wait_until_idle(page)
        settings = get_settings()
        assert (
            page.get_by_role("link", name="Dagster UI")
            .get_attribute("href")
            .startswith(f"http://{settings.bind_host}:{settings.dagster_port}")
        )
        assert page.get_by_role("link", name="Flink UI").get_attribute("href").startswith(settings.flink_url)
        assert_no_exception(page, "pipeline links")


def _newest_window_events(dsn: str) -> tuple[str, float] | None:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "select to_char(max(window_end) at time zone 'UTC', 'YYYY-MM-DD HH24:MI'), "
            "sum(events) filter (where window_start = (select max(window_start) from realtime.content_minute_stats)) "
            "from realtime.content_minute_stats"
        ).fetchone()
    return None if row[0] is None else (row[0], float(row[1]) / 60)


def test_live_overview_follows_the_generator(chromium, isolated) -> None:  # noqa: ANN001
    """Generator (real time) -> Kafka -> the real Flink job -> PostgreSQL -> the open overview, without reloading."""
    from generator.run import RunConfig, run_generator

    out = output_dir()
    stop = threading.Event()
    settings = isolated.scoped_settings()
    failures: list[BaseException] = []

    def produce() -> None:
        # Real-time pacing, starting at the previous minute: that minute is produced at once (so the first
        # window closes within seconds), then event time follows the wall clock.
        start_ms = int(time.time() // 60 * 60_000) - 60_000
        try:
            run_generator(settings, RunConfig(rate=100, seed=8, catalog_size=500, start_ms=start_ms), stop=stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    with flink_job(isolated), streamlit_server(isolated.dsn(), isolated.topic) as url:
        with browser_page(chromium, url) as page:
            wait_until_idle(page)
            main = page.get_by_test_id("stMain")
            main.get_by_text("No data yet: is the generator running?").wait_for(timeout=30_000)
            screenshot_whole(page, out / "live_1_before.png")
            generator = threading.Thread(target=produce, daemon=True)
            generator.start()
            try:
                # The first complete minute appears by itself (the fragment refreshes every 5 s) ...
                caption = main.get_by_text(re.compile(r"Data up to \d{4}-\d\d-\d\d \d\d:\d\d UTC"))
                caption.wait_for(timeout=150_000)
                first = caption.inner_text()
                screenshot_whole(page, out / "live_2_first_minute.png")

                # ... and the next one replaces it in place, still without a reload.
                def moved_on() -> bool:
                    assert not failures, failures  # a producer failure stops the wait at once
                    return caption.inner_text() != first

                with contextlib.suppress(TimeoutError):  # the assertion below says what did not happen
                    wait_until(moved_on, "the next minute", 100)
                second = caption.inner_text()
                assert second != first, "the overview did not move on to the next minute"
                # What the page shows is what the job wrote: the newest minute's events per second.
                clock, rate, shown = "", 0.0, ""

                def shows_the_database() -> bool:
                    nonlocal clock, rate, shown
                    clock, rate = _newest_window_events(isolated.dsn())
                    shown = page.get_by_test_id("stMetricValue").first.inner_text()
                    return clock in caption.inner_text() and shown == f"{rate:,.1f} events/s"

                try:
                    wait_until(shows_the_database, "the overview to show the newest minute", 20)
                except TimeoutError:
                    pytest.fail(
                        f"overview shows {shown} for {caption.inner_text()}, the database {rate:.1f} at {clock}"
                    )
                assert 80 <= rate <= 120  # the generator's 100 events/s, as counted by the job
                # Freshness is the wall clock minus that data clock, in seconds (refreshed with the fragment).
                badge = main.get_by_text("behind real time").first.inner_text()
                shown_s = int(re.search(r"Freshness: ([\d,]+) s", badge).group(1).replace(",", ""))
                data_clock = datetime.strptime(clock, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
                assert abs(shown_s - (time.time() - data_clock.timestamp())) <= 20
                assert_no_exception(page, "live overview")
                screenshot_whole(page, out / "live_3_next_minute.png")
            finally:
                stop.set()
                generator.join(timeout=30)
    assert not failures, failures
