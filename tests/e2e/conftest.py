"""The pipeline run shared by every end-to-end test that reads the real-time tables (analytics, dbt,
API, dashboard): one seeded generator run through the real Flink job into a database of its own.

Set STREAMPULSE_TEST_KEEP_PIPELINE=1 while iterating: the run goes to a fixed topic and database
(`test-events-keep`, `test_keep`) that are kept afterwards and reused by the next session.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psycopg
import pytest

from generator.producer import EventProducer
from generator.run import Progress, RunConfig, run_generator
from generator.scenarios import load
from streampulse import bootstrap
from streampulse.settings import Settings
from streampulse.waiting import wait_until
from tests.conftest import Isolated, _drop, _isolate
from tests.e2e import expected
from tests.e2e.helpers import T0, flink_job, ms, send_clock

RATE = 200  # events per second of event time
MINUTES = 16
INCIDENTS = [
    "cdn_outage:node=edge-de-fra-1,start=180,duration=300",
    "cdn_outage:node=edge-us-east-2,start=600,duration=240",
    "latency_degradation:node=edge-jp-tyo-1,start=240,duration=300",
    "regional_outage:region=BR,start=420,duration=240",
]
NOISE = ["out_of_order:fraction=0.1,max_delay=4,start=0,duration=960", "duplicates:fraction=0.01,start=0,duration=960"]
LATE_EVENTS = 500

TABLES = (
    "content_minute_stats",
    "content_region_minute_stats",
    "trending",
    "cdn_node_minute_stats",
    "cdn_alerts",
    "cdn_incidents",
    "late_events_minute",
)


@dataclass
class PipelineRun:
    """What the tests compare against: the events in Kafka and the tables the job filled."""

    isolated: Isolated
    on_time: pd.DataFrame  # what the windows count: phase one, on time, first copy of each event_id
    late: pd.DataFrame  # what the oracle classifies late (expected: exactly phase two)
    sent: pd.DataFrame  # phase one as sent: every event before the late ones, duplicates included
    phase_two: pd.DataFrame  # event times long behind the watermark, sent after phase one
    end: datetime  # end of the last event-time window of phase one
    run_id: str  # the seeded run's id in ground_truth.*

    @property
    def dsn(self) -> str:
        return self.isolated.dsn()


def query(dsn: str, sql: str, params: tuple | dict | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(dsn: str, sql: str, until, timeout_s: float = 240) -> None:  # noqa: ANN001
    try:
        wait_until(lambda: until(query(dsn, sql)[0][0]), sql, timeout_s, interval_s=2)
    except TimeoutError as exc:
        pytest.fail(str(exc))
    time.sleep(2)  # one more sink flush


def wait_until_settled(dsn: str, timeout_s: float = 300) -> None:
    """Until every real-time table has stopped changing for 8 s (the sinks flush every 0.5 s)."""
    sql = (
        "select "
        + ", ".join(f"(select count(*) from realtime.{t})" for t in TABLES)
        + ", (select coalesce(sum(late_events), 0) from realtime.late_events_minute)"
    )
    seen = {"counts": None, "since": time.monotonic()}

    def settled() -> bool:
        counts = query(dsn, sql)[0]
        if counts != seen["counts"]:
            seen.update(counts=counts, since=time.monotonic())
        return time.monotonic() - seen["since"] >= 8

    try:
        wait_until(settled, "the real-time tables to settle", timeout_s)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def _produce(isolated: Isolated) -> tuple[list[int], Progress]:
    settings = isolated.scoped_settings()
    end = T0 + timedelta(minutes=MINUTES)
    with flink_job(isolated):
        first = run_generator(
            settings,
            RunConfig(rate=RATE, duration_s=MINUTES * 60, seed=2026, start_ms=ms(T0), max_speed=True,
                      scenarios=load(INCIDENTS + NOISE)),
        )  # fmt: skip
        producer = EventProducer(settings, isolated.topic)
        send_clock(producer, end + timedelta(seconds=10))  # watermark passes the last window's end
        producer.flush()
        phase_one_ends = expected.end_offsets(settings, isolated.topic)
        wait_for(isolated.dsn(), f"select count(*) from realtime.trending where window_end = '{end.isoformat()}'",
                 lambda n: n > 0)  # fmt: skip
        wait_until_settled(isolated.dsn())
        # Late events: event times in minute 5..6, long after the watermark passed them.
        run_generator(
            settings,
            RunConfig(rate=100, count=LATE_EVENTS, seed=7, start_ms=ms(T0 + timedelta(minutes=5, seconds=30)),
                      max_speed=True),
        )  # fmt: skip
        wait_for(isolated.dsn(), "select coalesce(sum(late_events), 0) from realtime.late_events_minute",
                 lambda n: n >= LATE_EVENTS)  # fmt: skip
        wait_until_settled(isolated.dsn())
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        conn.execute("create table if not exists public.test_pipeline_run (phase_one_ends bigint[], run_id text)")
        conn.execute("insert into public.test_pipeline_run values (%s, %s)", (phase_one_ends, first.run_id))
    return phase_one_ends, first


def _kept(stack: Settings) -> Isolated:
    iso = Isolated(stack, "test-events-keep", "test_keep", "test-job-keep")
    with psycopg.connect(stack.dsn("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (iso.database,)).fetchone()
    if exists:
        done = query(iso.dsn(), "select to_regclass('public.test_pipeline_run') is not null")[0][0]
        if done and query(iso.dsn(), "select count(*) from public.test_pipeline_run")[0][0]:
            return iso
        _drop(stack, iso)
    bootstrap.ensure_database(stack, iso.database)
    bootstrap.apply_migrations(stack, iso.database)
    bootstrap.ensure_topic(stack, iso.topic, partitions=3)
    bootstrap.ensure_topic(stack, iso.alerts_topic, partitions=1)
    return iso


@pytest.fixture(scope="session")
def pipeline_run(stack: Settings) -> Iterator[PipelineRun]:
    """The seeded scenario run through the real job once per session; the tests read its results."""
    keep = os.environ.get("STREAMPULSE_TEST_KEEP_PIPELINE") == "1"
    isolated = _kept(stack) if keep else _isolate(stack)
    rows = query(isolated.dsn(), "select to_regclass('public.test_pipeline_run') is not null")[0][0] and query(
        isolated.dsn(), "select phase_one_ends, run_id from public.test_pipeline_run"
    )
    phase_one_ends, run_id = rows[0] if rows else (None, None)
    if phase_one_ends is None:
        phase_one_ends, first = _produce(isolated)
        run_id = first.run_id
    settings = isolated.scoped_settings()
    events = expected.classify(expected.read_events(settings, isolated.topic), settings.watermark_delay_seconds * 1000)
    is_phase_one = events.apply(lambda r: r["offset"] < phase_one_ends[r["partition"]], axis=1)
    not_clock = events["content_id"] != "clock"
    yield PipelineRun(
        isolated=isolated,
        on_time=expected.counted(events[is_phase_one & not_clock]),
        late=events[events["late"]],
        sent=events[is_phase_one & not_clock],
        phase_two=events[~is_phase_one],
        end=T0 + timedelta(minutes=MINUTES),
        run_id=str(run_id),
    )
    if not keep:
        _drop(stack, isolated)


@dataclass
class DbtBuild:
    """The session's `dbt build` over the pipeline run's database (marts in schema `marts`)."""

    dsn: str = field(repr=False)  # carries the password
    result: subprocess.CompletedProcess = field(repr=False)
    seconds: float = 0.0


@pytest.fixture(scope="session")
def dbt_build(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    """`dbt build --full-refresh` (models, data tests, unit tests) into the pipeline run's database.

    Sessions that share the kept database take turns (an advisory lock); each build writes to its own
    target directory, so concurrent dbt runs never share compiled files.
    """
    from streampulse.dbt import run_dbt

    work = tmp_path_factory.mktemp("dbt")
    settings = pipeline_run.isolated.scoped_settings()
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as lock:
        lock.execute("select pg_advisory_lock(hashtext('streampulse: dbt build'))")
        started = time.monotonic()
        result = run_dbt(
            settings, "build", "--full-refresh", "--target-path", str(work / "target"), log_dir=work / "logs"
        )
        seconds = time.monotonic() - started
    if result.returncode != 0:
        pytest.fail(f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    return DbtBuild(dsn=pipeline_run.dsn, result=result, seconds=seconds)


@pytest.fixture(scope="session")
def marts_built(dbt_build: DbtBuild) -> str:
    """The dsn of the pipeline run's database once `dbt build` has filled `marts.*` (green)."""
    return dbt_build.dsn
