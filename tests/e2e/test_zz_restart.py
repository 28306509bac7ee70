"""Stopping leaves no process behind; starting again reuses Kafka's and PostgreSQL's data.

Runs last (file name) and only when the tests started the stack themselves: it stops the stack.
"""

from __future__ import annotations

import random
import subprocess
import sys

import psutil
import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from generator.events import make_event
from generator.producer import produce_events
from streampulse.settings import REPO_ROOT

pytestmark = pytest.mark.stack


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streampulse.cli", "stack", *args], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def _end_offsets(settings, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "restart-test"})
    try:
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(3)]
    finally:
        consumer.close()


def _stack_processes(state_dir) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(state_dir) in cmdline and proc.pid != psutil.Process().pid:
            found.append(f"{proc.pid}: {cmdline[:120]}")
    return found


def test_down_leaves_nothing_and_up_keeps_data(isolated):
    settings = isolated.settings
    if not settings.__dict__.get("started_by_tests"):
        pytest.skip("the stack was already running before the tests: not stopping someone else's stack")
    rng = random.Random(3)
    produce_events(settings, [make_event(rng, 1_767_225_600_000 + i, f"item-{i}") for i in range(25)], isolated.topic)
    offsets = _end_offsets(settings, isolated.topic)
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        conn.execute("insert into realtime.late_events_minute (event_minute, late_events) values ('2026-01-01', 7)")

    down = _cli("down")
    assert down.returncode == 0, down.stderr
    assert _stack_processes(settings.state_dir) == []

    up = _cli("up", "--core", "--no-job")
    assert up.returncode == 0, up.stderr
    assert sum(offsets) == 25
    assert _end_offsets(settings, isolated.topic) == offsets
    with psycopg.connect(isolated.dsn()) as conn:
        row = conn.execute("select late_events from realtime.late_events_minute where event_minute = '2026-01-01'")
        assert row.fetchone() == (7,)
