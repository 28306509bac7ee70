"""Helpers for end-to-end tests: run the real Flink job on a test's own topic and database."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
import psycopg

from flink_jobs import deploy
from flink_jobs.rest import FlinkRest
from generator.events import make_event
from generator.producer import EventProducer
from streampulse import waiting

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def send_clock(producer: EventProducer, at: datetime, partitions: int = 3) -> None:
    """One event per partition at `at`: moves every partition's watermark past the earlier windows."""
    rng = random.Random(0)
    for partition in range(partitions):
        producer.send(make_event(rng, ms(at), "clock"), partition=partition)


def minute_counts(events: list[dict]) -> dict[tuple[str, datetime], int]:
    """The independent computation: events per (content, minute)."""
    counts: Counter = Counter()
    for e in events:
        minute = datetime.fromtimestamp(e["event_time"] // 60_000 * 60, tz=timezone.utc)
        counts[(e["content_id"], minute)] += 1
    return dict(counts)


def read_minute_counts(dsn: str) -> dict[tuple[str, datetime], int]:
    with psycopg.connect(dsn) as conn:
        return {
            (content, start): count
            for content, start, count in conn.execute(
                "select content_id, window_start, events from realtime.content_minute_stats"
            )
        }


@contextmanager
def flink_job(isolated) -> Iterator[str]:
    """The analytics job on the test's topic and database; cancelled afterwards."""
    job_id = deploy.submit_in_subprocess(
        isolated.settings,
        topic=isolated.topic,
        database=isolated.database,
        job_name=isolated.job_name,
        alerts_topic=isolated.alerts_topic,
    )
    try:
        # Every task running (the source has its partitions) before the test produces anything.
        deploy.wait_until_running(isolated.settings, job_id, timeout_s=120)
        time.sleep(2)
        yield job_id
    finally:
        FlinkRest.from_settings(isolated.settings).cancel(job_id, check=False)


def wait_for_minute_counts(dsn: str, expected_rows: int, timeout_s: float = 180) -> dict:
    """The minute counts once `expected_rows` rows are there; after `timeout_s`, whatever is there (the
    caller's comparison then shows what is missing)."""
    rows: dict = {}

    def enough() -> bool:
        nonlocal rows
        rows = read_minute_counts(dsn)
        return len(rows) >= expected_rows

    try:
        waiting.wait_until(enough, f"{expected_rows} minute rows", timeout_s, interval_s=2)
    except TimeoutError:
        return rows
    # One more look after a flush interval: nothing may still be changing.
    time.sleep(1.5)
    return read_minute_counts(dsn)


def wait_until(predicate, what: str, timeout_s: float = 180) -> None:  # noqa: ANN001
    """Poll `predicate` every second (a Flink REST hiccup counts as not yet) until true, or fail the test."""
    import pytest

    try:
        waiting.wait_until(predicate, what, timeout_s, interval_s=1, retry_on=(httpx.HTTPError,))
    except TimeoutError as exc:
        pytest.fail(f"timed out: {exc}")
