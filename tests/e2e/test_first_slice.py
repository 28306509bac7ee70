"""The first end-to-end slice through real components only.

generator (Avro, registry wire format) -> Kafka -> Flink SQL job on the session cluster ->
PostgreSQL (upsert) -> REST API. Known events with fixed event times; exact per-minute counts.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.keys import create_key
from api.main import create_app
from flink_jobs import runner
from generator.events import make_event
from generator.producer import EventProducer

pytestmark = pytest.mark.stack

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def known_events() -> list[dict]:
    """Three minutes of events for 7 items, with some out of order (within the 5 s watermark delay)."""
    rng = random.Random(7)
    events = []
    for second in range(0, 180, 2):
        for _ in range(rng.randint(0, 3)):
            content = f"item-{rng.randrange(7)}"
            jitter = rng.randint(-4000, 0)  # late, but inside the bounded out-of-orderness
            events.append(make_event(rng, _ms(T0 + timedelta(seconds=second)) + jitter, content))
    return [e for e in events if e["event_time"] >= _ms(T0)]


def expected_counts(events: list[dict]) -> dict[tuple[str, datetime], int]:
    """The independent computation: count events per (content, minute)."""
    counts: Counter = Counter()
    for e in events:
        minute = datetime.fromtimestamp(e["event_time"] // 60_000 * 60, tz=timezone.utc)
        counts[(e["content_id"], minute)] += 1
    return dict(counts)


def cancel(settings, job_id: str) -> None:
    httpx.patch(f"{settings.flink_url}/jobs/{job_id}", params={"mode": "cancel"}, timeout=10)


def test_events_to_postgres_api_and_dashboard(isolated, monkeypatch):
    settings = isolated.settings
    events = known_events()
    expected = expected_counts(events)
    assert len(expected) > 15

    producer = EventProducer(settings, isolated.topic)
    for event in events:
        producer.send(event)
    # One late-clock event per partition moves every partition's watermark past the last window.
    rng = random.Random(0)
    for partition in range(3):
        producer.send(make_event(rng, _ms(T0 + timedelta(minutes=5)), "clock"), partition=partition)
    report = producer.flush()
    assert (report.delivered, report.failed) == (len(events) + 3, 0)

    job_id = runner.submit_in_subprocess(
        settings, topic=isolated.topic, database=isolated.database, job_name=isolated.job_name
    )
    try:
        deadline = time.monotonic() + 180
        rows: dict = {}
        while time.monotonic() < deadline:
            with psycopg.connect(isolated.dsn()) as conn:
                rows = {
                    (content, start): count
                    for content, start, count in conn.execute(
                        "select content_id, window_start, event_count from realtime.content_minute_stats"
                    )
                }
            if len(rows) >= len(expected):
                break
            time.sleep(2)
        assert rows == expected
    finally:
        cancel(settings, job_id)

    # The same numbers through the REST API, with a real key; none without one.
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        key = create_key(conn, "e2e test", ["read"])
    with TestClient(create_app(dsn=isolated.dsn())) as client:
        url = "/v1/content/item-3/minutes"
        params = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=10)).isoformat()}
        assert client.get(url, params=params).status_code == 401
        response = client.get(url, params=params, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        got = {datetime.fromisoformat(m["window_start"]): m["event_count"] for m in response.json()["minutes"]}
        assert got == {start: n for (content, start), n in expected.items() if content == "item-3"}

    # And on the dashboard's content page, read from the same database.
    from streamlit.testing.v1 import AppTest

    from streampulse.settings import REPO_ROOT, get_settings

    monkeypatch.setenv("DATABASE_URL", isolated.dsn())
    get_settings.cache_clear()
    try:
        page = AppTest.from_file(str(REPO_ROOT / "streamlit_app" / "pages" / "content.py"), default_timeout=30).run()
        assert not page.exception
        newest = max(start for _, start in expected)
        assert [m.value for m in page.metric] == [f"{newest:%Y-%m-%d %H:%M}"]
    finally:
        get_settings.cache_clear()
