"""Exactly-once results through a crash: kill -9 the TaskManager mid-run; after the restore from the
last checkpoint the tables still equal the independent computation (nothing lost, nothing doubled)."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest

from flink_jobs.rest import FlinkRest
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from streampulse.stack.supervisor import Supervisor
from tests.e2e import expected
from tests.e2e.conftest import query as _query
from tests.e2e.conftest import wait_until_settled as _wait_until_settled
from tests.e2e.helpers import T0, flink_job, ms, send_clock, wait_until
from tests.e2e.test_stream_analytics import _approx

pytestmark = pytest.mark.stack


def _completed_checkpoints(settings, job_id: str) -> int:  # noqa: ANN001
    return FlinkRest.from_settings(settings).checkpoint_stats(job_id).completed


def test_taskmanager_killed_mid_run_loses_and_doubles_nothing(isolated):
    settings = isolated.scoped_settings()
    supervisor = Supervisor(settings)
    if not supervisor.info("flink-taskmanager"):
        pytest.skip("the Flink cluster is not managed by this stack (external cluster)")
    halves = [
        RunConfig(rate=200, duration_s=300, seed=31, start_ms=ms(T0), max_speed=True,
                  scenarios=load(["out_of_order:fraction=0.1,max_delay=4,start=0,duration=300"])),
        RunConfig(rate=200, duration_s=300, seed=32, start_ms=ms(T0 + timedelta(minutes=5)), max_speed=True,
                  scenarios=load(["cdn_outage:node=edge-us-east-1,start=0,duration=240"])),
    ]  # fmt: skip
    with flink_job(isolated) as job_id:
        run_generator(settings, halves[0])
        # Some output written and a checkpoint taken after it: the crash then has state to restore.
        wait_until(lambda: _query(isolated.dsn(), "select count(*) from realtime.content_minute_stats")[0][0] > 0,
                  "first results")  # fmt: skip
        before = _completed_checkpoints(settings, job_id)
        wait_until(lambda: _completed_checkpoints(settings, job_id) > before, "a checkpoint after the first results")

        pid = supervisor.info("flink-taskmanager")["pid"]
        os.kill(pid, signal.SIGKILL)
        run_generator(settings, halves[1])  # produced while the job is down or restoring
        producer = EventProducer(settings, isolated.topic)
        send_clock(producer, T0 + timedelta(minutes=10, seconds=10))
        producer.flush()

        wait_until(lambda: supervisor.info("flink-taskmanager")["pid"] not in (0, pid), "the TaskManager to restart")
        wait_until(lambda: FlinkRest.from_settings(settings).job_state(job_id) == "RUNNING", "the job to run again")
        wait_until(
            lambda: _query(isolated.dsn(), "select count(*) from realtime.trending where window_end = "
                           f"'{(T0 + timedelta(minutes=10)).isoformat()}'")[0][0] > 0,
            "the last windows after the restore",
        )  # fmt: skip
        _wait_until_settled(isolated.dsn())
        exceptions = FlinkRest.from_settings(settings).exceptions(job_id)
        assert exceptions.get("exceptionHistory", {}).get("entries"), "the job should have failed over"

    events = expected.read_events(settings, isolated.topic)
    on_time = events[events["content_id"] != "clock"]
    want = expected.content_minute_stats(on_time)
    rows = _query(isolated.dsn(), """
        select content_id, window_start, events, downloads_started, downloads_completed, downloads_failed,
               streams_started, streams_ended, purchases, bytes_sent, distinct_users, ttfb_avg_ms, ttfb_p95_ms
        from realtime.content_minute_stats""")  # fmt: skip
    assert {(r[0], r[1]): _approx(r[2:]) for r in rows} == want
    trending = expected.trending(on_time, ms(T0 + timedelta(minutes=10)))
    rows = _query(isolated.dsn(), """
        select trend_scope, window_end, rank_no, content_id, events, recent_events, earlier_events, score
        from realtime.trending""")  # fmt: skip
    assert {(r[0], r[1], r[2]): _approx(r[3:]) for r in rows} == trending
