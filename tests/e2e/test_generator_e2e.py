"""The generator against the real broker, registry, PostgreSQL and Flink job."""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from generator.events import make_event
from generator.producer import EventProducer, SchemaRejected, register_schema
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from generator.schema import event_schema_text
from streampulse.settings import REPO_ROOT
from tests.e2e.helpers import T0, flink_job, minute_counts, ms, send_clock, wait_for_minute_counts

pytestmark = pytest.mark.stack


def _topic_messages(settings, topic: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"read-{topic}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        assignments = []
        for p in range(3):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assignments.append((TopicPartition(topic, p, low), high - low))
        consumer.assign([tp for tp, _ in assignments])
        wanted = sum(n for _, n in assignments)
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(values) < wanted and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=1):
                if msg.error() is None:
                    values.append(msg.value())
        return values
    finally:
        consumer.close()


def test_run_is_delivered_in_full_and_labelled(isolated, tmp_path):
    settings = isolated.scoped_settings()
    config = RunConfig(
        rate=1000,
        count=30_000,
        seed=5,
        start_ms=ms(T0),
        max_speed=True,
        scenarios=load(["cdn_outage:node=edge-de-fra-1,start=5,duration=10", "duplicates:fraction=0.05"]),
    )
    result = run_generator(settings, config)
    report = result.report
    assert report.failed == 0 and report.delivered == 30_000 + result.effects["duplicates"]

    values = _topic_messages(settings, isolated.topic)
    assert len(values) == report.delivered
    schema_id = register_schema(settings, f"{isolated.topic}-value")  # idempotent: the id in use
    assert {v[:5] for v in values} == {struct.pack(">bI", 0, schema_id)}

    with psycopg.connect(isolated.dsn()) as conn:
        run = conn.execute(
            "select delivered, failed, effects from ground_truth.runs where run_id = %s", (result.run_id,)
        ).fetchone()
        incidents = conn.execute(
            "select kind, target, starts_at, ends_at from ground_truth.incidents"
            " where run_id = %s order by incident_no",
            (result.run_id,),
        ).fetchall()
        catalog_rows = conn.execute("select count(*) from catalog.content").fetchone()[0]
    assert run[0] == report.delivered and run[1] == 0 and run[2] == result.effects
    assert incidents[0][:2] == ("cdn_outage", "edge-de-fra-1")
    assert incidents[0][2] == T0 + timedelta(seconds=5) and incidents[0][3] == T0 + timedelta(seconds=15)
    assert incidents[1][0] == "duplicates"
    assert catalog_rows == 5000

    # The catalog is a dbt source: the staging model builds on it and its tests pass.
    from streampulse.dbt import run_dbt

    # cautious: only the tests of this model, not the relationship tests of models that refer to it
    result = run_dbt(settings, "build", "--select", "stg_catalog__content", "--indirect-selection", "cautious",
                     log_dir=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PASS=" in result.stdout and "ERROR=0" in result.stdout


def test_v1_and_v2_producers_together_through_flink(isolated):
    """Both schema versions on one topic at once; the job (reader schema v2) counts every event."""
    rng = random.Random(11)
    v1 = EventProducer(isolated.settings, isolated.topic, schema_version=1)
    v2 = EventProducer(isolated.settings, isolated.topic, schema_version=2)
    assert v1.schema_id != v2.schema_id
    events = []
    # The job runs before the events arrive, as in production: a partition holding only the clock
    # event, read before the others at start-up, would otherwise move the watermark ahead of them.
    with flink_job(isolated):
        for i in range(400):
            event = make_event(rng, ms(T0) + i * 300, f"mov-{i % 5:06d}", referrer="SEARCH" if i % 2 else None)
            if i % 2:
                v2.send(event)
            else:
                v1.send({k: v for k, v in event.items() if k != "referrer"})
            events.append(event)
            if i % 10 == 9:
                # Two producers' batches reach a partition in either order: flushing every 3 s of event time
                # keeps the disorder inside the watermark's 5 s (one producer's whole batch first would not).
                v1.flush()
                v2.flush()
        v1.flush()
        v2.flush()
        # The clock goes last: were it sent with v2's events, it could overtake v1's in a partition.
        send_clock(v2, T0 + timedelta(minutes=5))
        v2.flush()
        expected = minute_counts(events)
        assert wait_for_minute_counts(isolated.dsn(), len(expected)) == expected


def test_incompatible_schema_is_refused_with_a_clear_error(isolated):
    subject = f"{isolated.topic}-value"
    register_schema(isolated.settings, subject, version=1)
    broken = json.loads(event_schema_text(1))
    for field in broken["fields"]:
        if field["name"] == "bytes_sent":
            field["type"] = "string"  # retyping a field breaks readers of the old data
    with pytest.raises(SchemaRejected, match=r"refused the given schema .* not compatible"):
        register_schema(isolated.settings, subject, text=json.dumps(broken))


def test_dead_broker_is_a_clear_error_not_a_hang(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # nothing listens once the socket is closed
    env = {**os.environ, "STREAMPULSE_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{dead}"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "generator", "--count", "10", "--no-labels"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert f"Kafka at 127.0.0.1:{dead} is not reachable" in result.stderr
    assert time.monotonic() - started < 30


def test_unknown_scenario_on_the_command_line_lists_the_valid_ones():
    result = subprocess.run(
        [sys.executable, "-m", "generator", "--scenario", "meteor_strike"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown scenario 'meteor_strike'" in result.stderr and "cdn_outage" in result.stderr
