"""The API as a real server process (uvicorn), with TZ=America/Los_Angeles so that nothing may depend on
the machine's or the database session's time zone: the time-zone test and live alerts from the real Flink job
over Server-Sent Events. (`schemathesis run --checks all` over the same server: test_api_conformance.py.)"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest

from api.keys import create_key
from api.routers.content import Granularity, read_stats
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from streampulse.settings import REPO_ROOT
from streampulse.waiting import wait_until
from tests.e2e.conftest import PipelineRun, query
from tests.e2e.helpers import T0, flink_job, ms, send_clock

pytestmark = pytest.mark.stack
PACIFIC = "America/Los_Angeles"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_api(dsn: str, **env: str) -> Iterator[tuple[str, list[str]]]:
    """uvicorn on a free loopback port, in Pacific time; yields its base URL and (at exit) its output lines."""
    port = _free_port()
    child_env = dict(os.environ, DATABASE_URL=dsn, TZ=PACIFIC, PGTZ=PACIFIC, **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail("the API exited:\n" + "".join(output))
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200

    try:
        try:
            wait_until(ready, "the API becoming ready", 60, interval_s=0.3, retry_on=(httpx.HTTPError,))
        except TimeoutError:
            pytest.fail("the API did not start:\n" + "".join(output))
        yield url, output
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def live(pipeline_run: PipelineRun) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        key = create_key(conn, "live e2e", ["read"])
    with serve_api(pipeline_run.dsn, STREAMPULSE_API_RATE_LIMIT="100000/second") as (url, output):
        yield url, {"X-API-Key": key}, output


def test_pacific_server_and_session_time_zone_return_the_utc_rows(live, pipeline_run):
    url, key, _ = live
    on_time = pipeline_run.on_time
    content = on_time["content_id"].value_counts().idxmax()
    g = on_time[on_time["content_id"] == content]
    # UTC day 2026-01-01 is 2025-12-31T16:00-08:00 .. 2026-01-01T16:00-08:00.
    params = {"granularity": "day", "start": "2025-12-31T16:00:00-08:00", "end": "2026-01-01T16:00:00-08:00"}
    body = httpx.get(f"{url}/v1/content/{content}/stats", params=params, headers=key, timeout=10).json()
    in_day = g[(g["event_ms"] >= ms(T0)) & (g["event_ms"] < ms(T0 + timedelta(days=1)))]
    assert [(p["window_start"], p["window_end"], p["events"]) for p in body["points"]] == [
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", len(in_day))
    ]
    assert body["start"] == "2026-01-01T00:00:00Z"
    pacific_minute = {"start": "2025-12-31T16:05:00-08:00", "end": "2025-12-31T16:06:00-08:00"}
    minutes = httpx.get(f"{url}/v1/content/{content}/stats", headers=key, timeout=10, params=pacific_minute).json()
    assert [(p["window_start"], p["events"]) for p in minutes["points"]] == [
        ("2026-01-01T00:05:00Z", int((g["minute_ms"] == ms(T0 + timedelta(minutes=5))).sum()))
    ]


def test_bucket_sql_is_correct_in_a_pacific_session_too(pipeline_run):
    """Even on a connection whose TimeZone is not UTC, hours and days are UTC buckets."""
    import asyncio

    async def run(content: str) -> list:
        async with await psycopg.AsyncConnection.connect(pipeline_run.dsn, options=f"-c timezone={PACIFIC}") as conn:
            assert (await (await conn.execute("show timezone")).fetchone())[0] == PACIFIC
            points = await read_stats(conn, content, Granularity.day, T0 - timedelta(days=1), T0 + timedelta(days=1))
            return [(p.window_start.astimezone(timezone.utc), p.events) for p in points]

    content, total = query(pipeline_run.dsn, """
        select content_id, sum(events) from realtime.content_minute_stats
        where window_start >= %s and window_start < %s group by 1 order by 2 desc limit 1""",
        (T0, T0 + timedelta(days=1)))[0]  # fmt: skip
    days = asyncio.run(run(content))
    assert (T0, total) in days and all(start.hour == 0 for start, _ in days)


def _sse_events(url: str, key: dict, events: queue.Queue, stop: threading.Event, last_id: str | None = None) -> None:
    """Reader thread: parse the stream into (event, id, data) tuples until `stop`."""
    headers = key | ({"Last-Event-ID": last_id} if last_id else {})
    try:
        with httpx.stream("GET", f"{url}/v1/alerts/stream", headers=headers, timeout=httpx.Timeout(5, read=30)) as r:
            if r.status_code != 200:
                events.put(("http", r.status_code, r.read().decode()))
                return
            event: dict = {}
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    if "event" in event:
                        events.put((event.get("event"), event.get("id"), event.get("data")))
                    event = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    event[field] = value.lstrip(" ")
    except httpx.HTTPError as exc:
        if not stop.is_set():
            events.put(("http", 0, repr(exc)))


def _next(events: queue.Queue, kind: str, timeout_s: float) -> tuple:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            item = events.get(timeout=1)
        except queue.Empty:
            continue
        assert item[0] != "http", item
        if item[0] == kind:
            return item
    pytest.fail(f"no '{kind}' event within {timeout_s} s")


def test_alert_from_the_real_flink_job_reaches_a_connected_sse_client(isolated):
    """A CDN outage goes through generator -> Kafka -> Flink (MATCH_RECOGNIZE) -> alerts topic -> SSE."""
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        key = {"X-API-Key": create_key(conn, "sse e2e", ["read"])}
    with serve_api(isolated.dsn(), STREAMPULSE_ALERTS_TOPIC=isolated.alerts_topic) as (url, output):
        assert httpx.get(f"{url}/v1/alerts/stream", timeout=5).status_code == 401
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=_sse_events, args=(url, key, events, stop), daemon=True).start()
        _, ready_id, _ = _next(events, "ready", 30)  # positioned: every later alert will arrive
        with flink_job(isolated):
            settings = isolated.scoped_settings()
            run_generator(settings, RunConfig(
                rate=100, duration_s=5 * 60, seed=11, start_ms=ms(T0), max_speed=True,
                scenarios=load(["cdn_outage:node=edge-de-fra-1,start=60,duration=180"]),
            ))  # fmt: skip
            producer = EventProducer(settings, isolated.topic)
            send_clock(producer, T0 + timedelta(minutes=6))
            producer.flush()
            _, alert_id, data = _next(events, "alert", 180)
        stop.set()
        alert = json.loads(data)
        assert (alert["anomaly_kind"], alert["subject"], alert["state"], alert["region"]) == (
            "ERROR_RATE", "edge-de-fra-1", "OPEN", "DE"
        )  # fmt: skip
        row = query(isolated.dsn(), "select started_at, detected_at, severity from realtime.cdn_alerts"
                                    " where subject = 'edge-de-fra-1'")  # fmt: skip
        assert [
            (datetime.fromisoformat(alert["started_at"]), datetime.fromisoformat(alert["at"]), alert["severity"])
        ] == row
        assert alert["started_at"].endswith("Z") and alert["id"].startswith("ERROR_RATE:edge-de-fra-1:")

        # A client reconnecting with the id it last saw gets what it missed.
        again: queue.Queue = queue.Queue()
        stop2 = threading.Event()
        threading.Thread(target=_sse_events, args=(url, key, again, stop2, ready_id), daemon=True).start()
        _, resumed_id, resumed = _next(again, "alert", 30)
        stop2.set()
        assert (resumed_id, json.loads(resumed)) == (alert_id, alert)
    assert key["X-API-Key"] not in "".join(output)
