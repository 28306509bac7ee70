"""Dagster operating the real platform (Kafka, Flink, PostgreSQL), each test on its own topic,
database and Flink job name: the generator run stops cleanly when terminated, the health sensor
brings a cancelled job back from its checkpoint, the upgrade job moves to new SQL through a
savepoint; afterwards the real-time tables still equal the independent computation."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    build_sensor_context,
    materialize,
)

from flink_jobs import deploy, runner
from flink_jobs.rest import ACTIVE_STATES, FlinkRest
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from orchestration.definitions import defs
from orchestration.resources import FlinkResource, KafkaResource, PostgresResource
from orchestration.streaming import checks
from orchestration.streaming.assets import flink_analytics_job
from orchestration.streaming.assets import realtime_tables as realtime_specs_list
from orchestration.streaming.operations import flink_savepoint_and_prune, upgrade_flink_job
from orchestration.streaming.sensors import flink_job_health
from streampulse.settings import REPO_ROOT
from tests.conftest import Isolated
from tests.e2e import expected
from tests.e2e.conftest import query, wait_until_settled
from tests.e2e.helpers import ms, send_clock, wait_until
from tests.e2e.test_stream_analytics import _approx

pytestmark = pytest.mark.stack
JOB = AssetKey("flink_analytics_job")


def resources_for(isolated: Isolated) -> dict:
    """The platform resources, pointed at the test's own topic, database and job name."""
    settings = isolated.settings
    return {
        "kafka": KafkaResource(
            bootstrap_servers=settings.bootstrap_servers, events_topic=isolated.topic,
            alerts_topic=isolated.alerts_topic,
        ),
        "flink": FlinkResource(rest_url=settings.flink_url, job_name=isolated.job_name),
        "postgres": PostgresResource(database=isolated.database),
    }  # fmt: skip


def _checkpoints(flink: FlinkResource, job_id: str) -> int:
    return flink.rest.checkpoint_stats(job_id).completed


def _materialization(result, key: AssetKey = JOB) -> dict:  # noqa: ANN001
    [event] = result.asset_materializations_for_node(flink_analytics_job.op.name)
    assert event.asset_key == key
    return {k: v.value for k, v in event.metadata.items()}


@pytest.fixture
def cleanup_jobs(isolated: Isolated) -> Iterator[None]:
    """Cancel whatever job of the test's name is still active at the end."""
    yield
    flink = FlinkRest.from_settings(isolated.settings)
    for job in flink.jobs_named(isolated.job_name):
        if job["state"] in ACTIVE_STATES:
            flink.cancel(job["jid"], check=False)


def _assert_equals_independent_computation(isolated: Isolated) -> int:
    settings = isolated.scoped_settings()
    events = expected.read_events(settings, isolated.topic)
    want = expected.content_minute_stats(events[events["content_id"] != "clock"])
    rows = query(isolated.dsn(), """
        select content_id, window_start, events, downloads_started, downloads_completed, downloads_failed,
               streams_started, streams_ended, purchases, bytes_sent, distinct_users, ttfb_avg_ms, ttfb_p95_ms
        from realtime.content_minute_stats""")  # fmt: skip
    assert {(r[0], r[1]): _approx(r[2:]) for r in rows} == want
    return len(rows)


# ---------------------------------------------------------------------------------------------
# The generator, launched like the UI launches it, terminated like the UI terminates it.
# ---------------------------------------------------------------------------------------------
def test_generator_run_launched_through_dagster_stops_cleanly_on_termination(isolated, tmp_path):
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    run_config = {
        "ops": {"generate_events": {"config": {"rate": 400.0, "duration_s": None, "seed": 5}}},
        "resources": {
            "kafka": {
                "config": {
                    "bootstrap_servers": isolated.settings.bootstrap_servers,
                    "events_topic": isolated.topic,
                    "alerts_topic": isolated.alerts_topic,
                }
            },
            "postgres": {"config": {"database": isolated.database}},
        },
    }
    settings = isolated.scoped_settings()

    def produced() -> int:
        return sum(expected.end_offsets(settings, isolated.topic))

    # A real instance with the default run launcher: the run executes in a subprocess of a code server,
    # and termination goes through that server (as from the UI).
    with DagsterInstance.local_temp(str(tmp_path)) as instance, WorkspaceProcessContext(
        instance, ModuleTarget("orchestration.definitions", "defs", str(REPO_ROOT), "streampulse")
    ) as workspace:  # fmt: skip
        context = workspace.create_request_context()
        remote_job = (
            context.get_code_location("streampulse").get_repository("__repository__").get_full_job("run_generator")
        )
        run = instance.create_run_for_job(
            job_def=defs.resolve_job_def("run_generator"),
            run_config=run_config,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        instance.launch_run(run.run_id, context)
        wait_until(lambda: produced() > 2000, "the generator to produce", timeout_s=120)
        before = produced()
        wait_until(lambda: produced() > before, "production to go on")
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED

        assert instance.run_launcher.terminate(run.run_id)
        wait_until(lambda: instance.get_run_by_id(run.run_id).is_finished, "the run to end", timeout_s=120)
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.CANCELED
        logs = [e.message for e in instance.all_logs(run.run_id)]

    stopped_at = produced()
    time.sleep(3)
    assert produced() == stopped_at, "the generator kept producing after the run was terminated"
    assert any("stopping the generator" in (m or "") for m in logs)
    # Clean stop: the generator flushed and finished its ground-truth record, and the record agrees
    # with what is in Kafka (nothing in flight was abandoned).
    [(delivered, failed, finished)] = query(
        isolated.dsn(),
        "select delivered, failed, finished_at from ground_truth.runs where topic = %s",
        (isolated.topic,),
    )
    assert finished is not None, [m for m in logs if m]
    assert (delivered, failed) == (stopped_at, 0)
    assert stopped_at > before


# ---------------------------------------------------------------------------------------------
# The Flink job: cancelled -> the sensor has it redeployed from its checkpoint; upgraded through a savepoint.
# ---------------------------------------------------------------------------------------------
def _minute_start(minutes_ago: int) -> datetime:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes_ago)


def _produce(isolated: Isolated, start: datetime, seconds: int, seed: int) -> None:
    run_generator(
        isolated.scoped_settings(),
        RunConfig(rate=100, duration_s=seconds, seed=seed, start_ms=ms(start), max_speed=True, record_labels=False),
    )


def _close_windows(isolated: Isolated, until: datetime) -> None:
    producer = EventProducer(isolated.scoped_settings(), isolated.topic)
    send_clock(producer, until + timedelta(seconds=10))
    producer.flush()


def _results_through(isolated: Isolated, window_end: datetime) -> None:
    sql = f"select count(*) from realtime.content_minute_stats where window_end = '{window_end.isoformat()}'"
    wait_until(lambda: query(isolated.dsn(), sql)[0][0] > 0, f"windows up to {window_end:%H:%M}")
    wait_until_settled(isolated.dsn())


def _check_results(resources: dict, instance: DagsterInstance) -> dict[tuple[str, str], AssetCheckEvaluation]:
    """Run the real-time asset checks in process; {(asset, check): evaluation}."""
    result = materialize(
        [flink_analytics_job, *realtime_specs_list, checks.realtime_tables_fresh, checks.flink_checkpoint_recent,
         checks.flink_consumer_lag, checks.dead_letters_below_threshold],
        selection=AssetSelection.all_asset_checks(),
        resources=resources,
        instance=instance,
    )  # fmt: skip
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def test_sensor_redeploys_a_cancelled_job_from_its_checkpoint_and_nothing_is_lost(isolated, cleanup_jobs):
    resources = resources_for(isolated)
    flink: FlinkResource = resources["flink"]
    instance = DagsterInstance.ephemeral()
    start = _minute_start(6)  # recent event times: the freshness check can pass

    deployed = _materialization(materialize([flink_analytics_job], resources=resources, instance=instance))
    first_job = deployed["job_id"]
    assert deployed["action"] == "submitted" and deployed["started_from"].startswith("none")
    assert deployed["sql_version"] == runner.sql_version()

    _produce(isolated, start, 150, seed=11)
    wait_until(lambda: query(isolated.dsn(), "select count(*) from realtime.content_minute_stats")[0][0] > 0,
              "first results")  # fmt: skip
    done = _checkpoints(flink, first_job)
    wait_until(lambda: _checkpoints(flink, first_job) > done, "a checkpoint after the first results")

    # While it runs, the sensor only observes (Flink's REST metrics fill in on the first ticks).
    ticks: list = []

    def observed_records() -> bool:
        ticks.append(flink_job_health(build_sensor_context(instance=instance, resources={"flink": flink})))
        return ticks[-1].asset_events[0].metadata["records_in"].value > 0

    wait_until(observed_records, "the sensor to observe records", timeout_s=60)
    assert not any(t.run_requests for t in ticks)
    observed = ticks[-1].asset_events[0].metadata
    assert observed["state"].value == "RUNNING" and observed["checkpoint_id"].value >= 1
    assert observed["records_in"].value <= 150 * 100 and observed["backpressure"].value in ("ok", "low", "high")

    flink.rest.cancel(first_job)
    wait_until(lambda: flink.rest.job_state(first_job) == "CANCELED", "the job to be cancelled")
    checkpoint = flink.rest.checkpoint_stats(first_job).latest_path
    _produce(isolated, start + timedelta(seconds=150), 150, seed=12)  # while no job runs

    tick = flink_job_health(build_sensor_context(instance=instance, resources={"flink": flink}))
    [request] = tick.run_requests
    assert request.job_name == "deploy_flink_job"
    assert tick.asset_events[0].metadata["state"].value == "CANCELED"
    redeployed = _materialization(
        materialize([flink_analytics_job], resources=resources, instance=instance, tags=request.tags)
    )
    assert redeployed["started_from"] == checkpoint
    assert redeployed["job_id"] != first_job
    assert flink.rest.checkpoint_stats(redeployed["job_id"]).restored_path == checkpoint

    _close_windows(isolated, start + timedelta(minutes=5))
    _results_through(isolated, start + timedelta(minutes=5))
    assert _assert_equals_independent_computation(isolated) > 0

    # Healthy again: every check passes once a checkpoint has committed the consumed offsets.
    done = _checkpoints(flink, redeployed["job_id"])
    wait_until(lambda: _checkpoints(flink, redeployed["job_id"]) > done, "a checkpoint after the last results")
    results = _check_results(resources, instance)
    assert len(results) == 7
    for key in [
        ("flink_analytics_job", "flink_checkpoint_recent"),
        ("flink_analytics_job", "flink_consumer_lag"),
        ("realtime/dead_letters", "dead_letters_below_threshold"),
    ]:
        assert results[key].passed, (key, results[key].metadata)
    assert results[("flink_analytics_job", "flink_consumer_lag")].metadata["lag"].value == 0
    # Freshness reads the newest window end (whether that is fresh depends on how long the test took).
    fresh = results[("realtime/content_minute_stats", "fresh")]
    assert fresh.metadata["newest_window_end"].value == (start + timedelta(minutes=5)).isoformat()
    assert fresh.passed == (fresh.metadata["age_s"].value <= 300)


def _new_sql(tmp_path: Path) -> tuple[Path, Path]:
    """The job's SQL as it is now, and a changed copy (a sink option: same plan and state, new version)."""
    old, new = tmp_path / "sql-old", tmp_path / "sql-new"
    shutil.copytree(runner.SQL_DIR, old)
    shutil.copytree(runner.SQL_DIR, new)
    sinks = new / "02_sinks_postgres.sql"
    text = sinks.read_text()
    option = "'connection.max-retry-timeout' = '30s'"
    changed = text.replace("${jdbc_sink_options}", "${jdbc_sink_options}, " + option, 1)
    assert changed != text, "the sinks no longer use ${jdbc_sink_options}: adapt this test's SQL change"
    sinks.write_text(changed)
    return old, new


def test_upgrade_job_moves_to_new_sql_through_a_savepoint_without_losing_state(isolated, cleanup_jobs, tmp_path):
    resources = resources_for(isolated)
    flink: FlinkResource = resources["flink"]
    instance = DagsterInstance.ephemeral()
    old_sql, new_sql = _new_sql(tmp_path)
    assert runner.sql_version(old_sql) != runner.sql_version(new_sql)
    start = _minute_start(30)

    deployed = _materialization(materialize(
        [flink_analytics_job], resources=resources, instance=instance,
        run_config={"ops": {"flink_analytics_job": {"config": {"sql_dir": str(old_sql)}}}},
    ))  # fmt: skip
    assert deployed["sql_version"] == runner.sql_version(old_sql)
    # Three and a half minutes of events: the savepoint holds the open window 3-4 and the sliding windows.
    _produce(isolated, start, 210, seed=21)
    _results_through(isolated, start + timedelta(minutes=3))

    upgrade_config = {"ops": {"stop_with_savepoint": {"config": {"sql_dir": str(new_sql)}}}}
    result = upgrade_flink_job.execute_in_process(run_config=upgrade_config, resources=resources, instance=instance)
    assert result.success
    stopped = result.output_for_node("stop_with_savepoint")
    new_job = result.output_for_node("start_from_savepoint")
    assert stopped["old_job_id"] == deployed["job_id"] and stopped["savepoint"]
    assert flink.rest.job_state(deployed["job_id"]) == "FINISHED"
    assert flink.rest.checkpoint_stats(new_job).restored_path == stopped["savepoint"]
    assert deploy.job_sql_version(isolated.settings, new_job) == runner.sql_version(new_sql)
    [materialized] = result.asset_materializations_for_node("start_from_savepoint")
    assert materialized.metadata["started_from"].value == stopped["savepoint"]

    # Running it again is a no-op: the job already runs that SQL.
    again = upgrade_flink_job.execute_in_process(run_config=upgrade_config, resources=resources, instance=instance)
    assert again.output_for_node("start_from_savepoint") is None

    _produce(isolated, start + timedelta(seconds=210), 150, seed=22)
    _close_windows(isolated, start + timedelta(minutes=6))
    _results_through(isolated, start + timedelta(minutes=6))
    assert _assert_equals_independent_computation(isolated) > 0

    # The periodic savepoint job: a savepoint of the upgraded job; retention keeps what is recent.
    kept = flink_savepoint_and_prune.execute_in_process(resources=resources, instance=instance)
    summary = kept.output_for_node("savepoint_and_prune")
    assert Path(summary["savepoint"].removeprefix("file:"), "_metadata").exists()
    assert Path(stopped["savepoint"].removeprefix("file:"), "_metadata").exists()
    # The data is half an hour old: the freshness checks must see that.
    results = _check_results(resources, instance)
    assert not results[("realtime/content_minute_stats", "fresh")].passed
    assert results[("flink_analytics_job", "flink_checkpoint_recent")].passed
