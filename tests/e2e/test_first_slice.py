"""The first end-to-end slice through real components only.

generator (Avro, registry wire format) -> Kafka -> Flink SQL job on the session cluster ->
PostgreSQL (upsert) -> REST API and dashboard. Known events with fixed event times; exact counts.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.keys import create_key
from api.main import create_app
from generator.events import make_event
from generator.producer import EventProducer
from tests.e2e.helpers import T0, flink_job, minute_counts, ms, send_clock, wait_for_minute_counts

pytestmark = pytest.mark.stack


def known_events() -> list[dict]:
    """Three minutes of events for 7 items, with some out of order (within the 5 s watermark delay)."""
    rng = random.Random(7)
    events = []
    for second in range(0, 180, 2):
        for _ in range(rng.randint(0, 3)):
            content = f"mus-{rng.randrange(7):06d}"
            jitter = rng.randint(-4000, 0)  # late, but inside the bounded out-of-orderness
            events.append(make_event(rng, ms(T0 + timedelta(seconds=second)) + jitter, content))
    return [e for e in events if e["event_time"] >= ms(T0)]


def test_events_to_postgres_api_and_dashboard(isolated, monkeypatch):
    events = known_events()
    expected = minute_counts(events)
    assert len(expected) > 15

    # The job runs before the events arrive, as in production (see test_generator_e2e for why).
    with flink_job(isolated):
        producer = EventProducer(isolated.settings, isolated.topic)
        for event in events:
            producer.send(event)
        send_clock(producer, T0 + timedelta(minutes=5))
        report = producer.flush()
        assert (report.delivered, report.failed) == (len(events) + 3, 0)
        assert wait_for_minute_counts(isolated.dsn(), len(expected)) == expected

    # The same numbers through the REST API, with a real key; none without one.
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        key = create_key(conn, "e2e test", ["read"])
    with TestClient(create_app(dsn=isolated.dsn())) as client:
        url = "/v1/content/mus-000003/minutes"
        params = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=10)).isoformat()}
        assert client.get(url, params=params).status_code == 401
        response = client.get(url, params=params, headers={"X-API-Key": key})
        assert response.status_code == 200, response.text
        got = {datetime.fromisoformat(m["window_start"]): m["event_count"] for m in response.json()["minutes"]}
        assert got == {start: n for (content, start), n in expected.items() if content == "mus-000003"}

    # And on the dashboard's content page, read from the same database.
    from streamlit.testing.v1 import AppTest

    from streampulse.settings import REPO_ROOT, get_settings

    monkeypatch.setenv("DATABASE_URL", isolated.dsn())
    get_settings.cache_clear()
    try:
        page = AppTest.from_file(str(REPO_ROOT / "streamlit_app" / "views" / "content.py"), default_timeout=30)
        page.query_params["content_id"] = "mus-000003"
        page.run()
        assert not page.exception
        events = sum(n for (content, _), n in expected.items() if content == "mus-000003")
        shown = {m.label: m.value for m in page.metric}
        assert shown["Events (last 60 min of data)"] == f"{events:,} events"
    finally:
        get_settings.cache_clear()
