"""Exactly-once results through a crash: kill -9 the TaskManager mid-run, with late events (60-150 s behind)
and client retries in the data; after the restore from the last checkpoint every table equals the
independent computation, row by row with nothing skipped (nothing lost, nothing doubled, no event
misclassified as late), and the reconciliation catches a changed, a deleted and an inserted row inside
minutes that hold late events."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta

import psycopg
import pytest

from flink_jobs.reconcile import reconcile
from flink_jobs.rest import FlinkRest
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from streampulse.stack.supervisor import Supervisor
from tests.e2e.conftest import query as _query
from tests.e2e.conftest import wait_until_settled as _wait_until_settled
from tests.e2e.helpers import T0, flink_job, ms, send_clock, wait_until

pytestmark = pytest.mark.stack
# 3% of events 60-150 s late and 1% sent twice, in both halves: some of each are replayed after the restore.
HARD_CASES = ["late_events:fraction=0.03,min_delay=60,max_delay=150,start=0,duration=300",
              "duplicates:fraction=0.01,start=0,duration=300"]  # fmt: skip


def _completed_checkpoints(settings, job_id: str) -> int:  # noqa: ANN001
    return FlinkRest.from_settings(settings).checkpoint_stats(job_id).completed


def test_taskmanager_killed_mid_run_loses_and_doubles_nothing(isolated):
    settings = isolated.scoped_settings()
    supervisor = Supervisor(settings)
    if not supervisor.info("flink-taskmanager"):
        pytest.skip("the Flink cluster is not managed by this stack (external cluster)")
    halves = [
        RunConfig(rate=200, duration_s=300, seed=31, start_ms=ms(T0), max_speed=True,
                  scenarios=load(["out_of_order:fraction=0.1,max_delay=4,start=0,duration=300", *HARD_CASES])),
        RunConfig(rate=200, duration_s=300, seed=32, start_ms=ms(T0 + timedelta(minutes=5)), max_speed=True,
                  scenarios=load(["cdn_outage:node=edge-us-east-1,start=0,duration=240", *HARD_CASES])),
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

    report = reconcile(settings, isolated.topic, isolated.database, T0, T0 + timedelta(minutes=10))
    print(report.render())
    assert report.ok, report.render()
    assert report.rows_skipped == 0 and report.misclassified_late == 0
    assert report.late_events > 1000 and report.duplicates > 300  # the hard cases were there
    assert report.kafka_events > 115_000  # 120,000 drawn, plus retries, less events made late past T0
    compared = {t.table: t.compared for t in report.tables}
    assert compared["content_minute_stats"] > 1000 and compared["late_events"] == report.late_events
    assert compared["cdn_alerts"] >= 1 and compared["cdn_incidents"] >= 1

    # Negative controls, each inside a minute that holds late events: the reconciliation must catch each one
    # (in the table it was made in, as the right kind of difference), and pass again once it is undone.
    late_minute = next(datetime.fromisoformat(m["minute"]) for m in report.minutes if m["late"] > 0)
    window = T0, T0 + timedelta(minutes=10)
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        key = conn.execute("select content_id from realtime.content_minute_stats where window_start = %s limit 1",
                           (late_minute,)).fetchone()[0]  # fmt: skip
        controls = [
            ("content_minute_stats", "differing",
             "update realtime.content_minute_stats set purchases = purchases + 1"
             " where content_id = %(k)s and window_start = %(m)s",
             "update realtime.content_minute_stats set purchases = purchases - 1"
             " where content_id = %(k)s and window_start = %(m)s"),
            ("content_minute_stats", "missing",
             "create temp table saved as select * from realtime.content_minute_stats"
             " where content_id = %(k)s and window_start = %(m)s;"
             " delete from realtime.content_minute_stats where content_id = %(k)s and window_start = %(m)s",
             "insert into realtime.content_minute_stats select * from saved; drop table saved"),
            ("cdn_node_minute_stats", "extra",
             "insert into realtime.cdn_node_minute_stats (cdn_node, window_start, window_end, region, requests,"
             " errors, error_rate, bytes_sent) values ('edge-xx-nowhere', %(m)s, %(m)s + interval '1 minute',"
             " 'XX', 1, 0, 0, 0)",
             "delete from realtime.cdn_node_minute_stats where cdn_node = 'edge-xx-nowhere'"),
        ]  # fmt: skip
        params = {"k": key, "m": late_minute}
        for table, kind, change, undo in controls:
            for statement in change.split("; "):
                conn.execute(statement, params if "%(" in statement else None)
            tampered = reconcile(settings, isolated.topic, isolated.database, *window)
            found = next(d for d in tampered.tables if d.table == table)
            assert not tampered.ok and len(getattr(found, kind)) == 1, (table, kind, tampered.render())
            for statement in undo.split("; "):
                conn.execute(statement, params if "%(" in statement else None)
        assert reconcile(settings, isolated.topic, isolated.database, *window).ok
