"""Deploy the analytics job: submit the rendered SQL to a Flink cluster, or make sure it runs.

The submission receives a `Settings` object and nothing else decides where the job goes: the PyFlink
client runs in a fresh process (it starts its own JVM), and that process gets the very same Settings
through its stdin (secrets included, never on a command line or in the environment). A per-run override
(another Flink URL, other bootstrap servers) therefore reaches the submitted job.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from pydantic import BaseModel, SecretStr

from flink_jobs import plans, runner, savepoints
from flink_jobs.rest import ENDED_STATES, FlinkRest, all_tasks_running
from streampulse.flink_classpath import flink_home, link_classpath
from streampulse.settings import Settings
from streampulse.waiting import wait_until

log = logging.getLogger(__name__)


class JobSpec(BaseModel):
    """What to submit, beside the Settings: which topic and database, under which name, from which state."""

    topic: str | None = None  # default: settings.events_topic
    database: str | None = None  # default: the platform database
    job_name: str | None = None  # default: settings.flink_job_name; also the Kafka consumer group
    from_checkpoint: str | None = None
    alerts_topic: str | None = None  # default: settings.alerts_topic
    sql_dir: Path = runner.SQL_DIR
    realtime_schema: str = "realtime"  # the PostgreSQL schema the sinks write (a replay writes a copy)
    bounded: bool = False  # read from the earliest to the current end offsets, then finish (a replay)


# Planner options of the job (tests/unit/test_flink_plan.py plans with them too). Window aggregates run in one
# phase: each event goes to its key's aggregate as it arrives. With a local phase, every local aggregate sent
# the whole minute's partial rows (one per key it saw) at the close, and the window merged them before it
# could fire: 0.6-2 s more at p99 per minute table at 20,000 events/s (docs/performance.md, issue 16).
PLAN_OPTIONS = {"table.optimizer.agg-phase-strategy": "ONE_PHASE"}


def submit(settings: Settings, spec: JobSpec | None = None) -> str:
    """Submit the job and return its id. Runs a PyFlink client JVM in this process.

    The job is submitted from its compiled plan (flink_jobs/plans.py), compiled first when this SQL and
    configuration have none yet: planning is what a fresh client spends most of its time on."""
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    spec = spec or JobSpec()
    job_name = spec.job_name or settings.flink_job_name
    sql_version = runner.sql_version(spec.sql_dir)
    jars = settings.flink_connector_jars()
    if not jars:
        raise SystemExit(f"No connector jars in {settings.lib_dir / 'flink'}: run `make setup`.")
    on_cluster = connectors_on_cluster(settings)
    rest = urlsplit(settings.flink_url)
    options = {
        "execution.target": "remote",
        "rest.address": rest.hostname,
        "rest.port": str(rest.port or 8081),
        "pipeline.name": job_name,
        "pipeline.jars": ";".join(p.as_uri() for p in settings.flink_job_jars(on_cluster)),
        "parallelism.default": str(settings.flink_parallelism),
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.min-pause": "1 s",
        # A barrier stuck behind a backlog (catching up after a restore) overtakes it after 1 s: the
        # checkpoint then stores the in-flight buffers instead of waiting for them (still exactly once).
        "execution.checkpointing.unaligned.enabled": "true",
        "execution.checkpointing.aligned-checkpoint-timeout": "1 s",
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": f"{settings.source_idle_timeout_seconds} s",
        # No state TTL: it would expire the partitions' clocks (05_views.sql) during a long outage, and a
        # restore after it would take late events for on-time ones. Unbounded state is one row per Kafka
        # partition and one count per minute that had late events; everything else is purged by windows.
        # Mini-batch (local-global) aggregation is deliberately off: with it, Flink 2.0 evaluated
        # CURRENT_WATERMARK ahead of the records and classified on-time events as late (caught by
        # tests/e2e/test_stream_analytics.py). It was worth about 30% of catch-up throughput.
        **PLAN_OPTIONS,
        # SQL operators copy what they keep, so chained operators may hand records over without a copy.
        "pipeline.object-reuse": "true",
        # A window closes when the watermark passes it: the watermark's period is part of every table's
        # freshness (Flink's default is 200 ms; issue 16). A watermark every 100 ms costs little.
        "pipeline.auto-watermark-interval": "100 ms",
        "execution.attached": "false",
        # The SQL version travels with the job (Flink UI and REST: /jobs/<id>/config, user-config).
        "pipeline.global-job-parameters": f"sql_version:{sql_version}",
    }
    options.update(settings.flink_job_config)  # the operator's own options win
    if not settings.flink_external:
        # One checkpoint folder per job name on the local cluster: a restore from disk (after the REST
        # API forgot earlier runs) can then only pick this job's own state, never another job's.
        options["execution.checkpointing.dir"] = savepoints.checkpoint_root(settings, job_name).as_uri()
    values = runner.placeholders(
        settings,
        spec.topic or settings.events_topic,
        spec.database,
        job_name,
        spec.alerts_topic,
        realtime_schema=spec.realtime_schema,
    )
    source_options = runner.BOUNDED_SOURCE_OPTIONS if spec.bounded else None
    statements = runner.render_statements(values, spec.sql_dir, source_options)
    jobs = [s for s in statements if plans.is_job(s)]
    if len(jobs) != 1:
        raise SystemExit(
            f"The SQL files in {spec.sql_dir} must end in exactly one INSERT or EXECUTE STATEMENT SET "
            f"(found {len(jobs)}): nothing was submitted."
        )
    # Every option that may shape the job must be in `options` by now: they are part of the plan's key (a
    # stale plan would ignore a changed one). The restore point is not: one plan serves every restore.
    plan = plans.plan_path(settings, sql_version, plans.plan_key(statements, options, jars))
    options["pipeline.global-job-parameters"] += f",sql_plan:{plan.stem}"
    # The client JVM lives for one submission: C1 alone compiles enough of the planner and costs far less CPU
    # (bench/submit_time.py, cached plan: 20.9 -> 13.1 CPU-s; compiling: 42.2 -> 25.5). Read by PyFlink when it
    # starts the JVM, so it applies only if this process has not started one yet; a JVM_ARGS given wins.
    os.environ.setdefault("JVM_ARGS", "-XX:TieredStopAtLevel=1")
    if on_cluster:  # the job does not bring the connectors, so the client needs them on its own classpath
        # With FLINK_HOME unset, PyFlink would point FLINK_LIB_DIR back at its own lib/ when it starts the JVM.
        os.environ.setdefault("FLINK_HOME", str(flink_home()))
        os.environ.setdefault("FLINK_LIB_DIR", str(link_classpath(settings)))
    config = Configuration()
    for key, value in options.items():
        config.set_string(key, value)
    if spec.from_checkpoint:
        config.set_string("execution.state-recovery.path", spec.from_checkpoint)
    env = TableEnvironment.create(
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    )
    cached = plan.exists()
    started = time.monotonic()
    for statement in statements:
        if not plans.is_job(statement) and not (cached and plans.carried_by_plan(statement)):
            runner.execute(env, statement)
    if cached:
        log.info("Job %s: executing the cached plan %s", job_name, plan)
    else:
        plans.compile_plan(env, jobs[0], plan)
        log.info("Job %s: compiled its plan into %s (%.1f s)", job_name, plan, time.monotonic() - started)
    # Always from the plan file, also right after compiling it: every job of this platform gets its operator
    # uids the same way, so any of its checkpoints restores into any later submission of the same plan.
    result = plans.execute_plan(env, plan)
    if result.get_job_client() is None:
        raise SystemExit(f"Executing the plan {plan} submitted no job.")
    return str(result.get_job_client().get_job_id())


def connectors_on_cluster(settings: Settings) -> bool:
    """Whether the cluster holds the third-party connectors itself (the setting, else its JobManager's
    classpath lists every one of them by name); if not, or if unsure, the job ships them."""
    if settings.flink_connectors_on_cluster is not None:
        return settings.flink_connectors_on_cluster
    try:
        held = {Path(p).name for p in FlinkRest.from_settings(settings).jobmanager_classpath()}
    except httpx.HTTPError:
        return False
    return all(jar.name in held for jar in settings.flink_cluster_jars())


def settings_payload(settings: Settings) -> dict[str, Any]:
    """Every field of the Settings, secrets revealed: what the child process validates back into Settings."""
    values = settings.model_dump(mode="python")
    return {key: value.get_secret_value() if isinstance(value, SecretStr) else value for key, value in values.items()}


def submit_in_subprocess(settings: Settings, timeout_s: float = 600, **spec: Any) -> str:
    """Submit from a fresh process (the PyFlink client starts its own JVM); return the job id.

    `spec` are `JobSpec` fields. The child receives these Settings, whole, on its stdin. It runs in a
    session of its own: if the caller crashes (a Dagster run worker killed mid-deploy), the submission
    still completes, and `submit_once` keeps a redeploy asked for meanwhile from submitting it twice."""
    request = {"settings": settings_payload(settings), "spec": JobSpec(**spec).model_dump(mode="json")}
    log_file = settings.log_dir / "flink-submit.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as err:
        result = subprocess.run(
            [sys.executable, "-m", "flink_jobs.deploy"],
            input=json.dumps(request, default=str),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=timeout_s,
            start_new_session=True,
        )
    if result.returncode != 0:
        raise RuntimeError(f"Submitting the Flink job failed (exit {result.returncode}); read {log_file}")
    return json.loads(result.stdout.strip().splitlines()[-1])["job_id"]


@contextmanager
def submission_lock(settings: Settings, job_name: str) -> Iterator[None]:
    """One submission of a job name at a time, across processes and machines: a PostgreSQL advisory lock.

    A submission outlives the process that asked for it (a crashed Dagster run worker), so a redeploy
    requested meanwhile waits here, then finds the job active instead of submitting it a second time.
    The lock goes with the connection: a submission killed in turn frees it."""
    with psycopg.connect(**settings.connection_parameters(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"flink-submit:{job_name}",))
        yield


def submit_once(settings: Settings, spec: JobSpec) -> str:
    """Submit unless a job of this name is active (then return its id): check and submit under the lock."""
    job_name = spec.job_name or settings.flink_job_name
    with submission_lock(settings, job_name):
        active = None if spec.bounded else FlinkRest.from_settings(settings).active_job(job_name)
        if active:
            log.warning("Flink job %s is already active as %s: not submitting it again", job_name, active)
            return active
        return submit(settings, spec)


def _submit_from_stdin() -> None:
    """The child side of `submit_in_subprocess`: {settings, spec} on stdin, {job_id, ...} on stdout's last line."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)  # which plan was used, in flink-submit.log (PyFlink's imports raise the root's level)
    request = json.loads(sys.stdin.read())
    # Init arguments win over the environment and .env: the child uses exactly the parent's Settings.
    settings = Settings(**request["settings"])
    spec = JobSpec(**request["spec"])
    job_id = submit_once(settings, spec)
    if spec.from_checkpoint and not spec.bounded:
        confirm_restore(settings, job_id)
    try:
        print(json.dumps({"job_id": job_id, "sql_version": runner.sql_version(spec.sql_dir)}), flush=True)
    except BrokenPipeError:  # the caller is gone (a run worker killed mid-deploy): the job runs all the same
        log.warning("Flink job %s submitted; the process that asked for it is gone", job_id)


def confirm_restore(settings: Settings, job_id: str, timeout_s: float = 60) -> None:
    """Checkpoint a restored job as soon as every task runs, rather than at its next periodic trigger (up to an
    interval later, and a trigger that came while tasks were still restoring failed and waited another one):
    the restore is durable sooner, and a crash right after it replays less. Best effort: the periodic
    checkpoints follow anyway."""
    try:
        wait_until_running(settings, job_id, timeout_s)
        FlinkRest.from_settings(settings).trigger_checkpoint(job_id)
        log.info("Flink job %s restored: a checkpoint triggered as soon as every task ran", job_id)
    except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        log.warning("Flink job %s: no checkpoint triggered after its restore (%s)", job_id, exc)


def wait_until_running(settings: Settings, job_id: str, timeout_s: float = 180) -> None:
    """Until the job and every task run: only then is it consuming and able to checkpoint."""
    flink = FlinkRest.from_settings(settings)

    def running() -> bool:
        job = flink.job(job_id)
        if job["state"] in ENDED_STATES:
            raise RuntimeError(f"Flink job {job_id} ended as {job['state']} right after submission; see the Flink UI.")
        return all_tasks_running(job)

    wait_until(running, f"Flink job {job_id} reaching RUNNING", timeout_s, interval_s=0.25, retry_on=(httpx.HTTPError,))


def job_sql_version(settings: Settings, job_id: str) -> str | None:
    """The SQL version a job was submitted with (a global job parameter set by `submit`)."""
    return FlinkRest.from_settings(settings).job_parameters(job_id).get("sql_version")


def ensure_running(settings: Settings) -> str:
    """Submit the platform job unless it is active; resume from its newest retained checkpoint."""
    running = FlinkRest.from_settings(settings).active_job(settings.flink_job_name)
    if running:
        log.info("Flink job %s already running (%s)", settings.flink_job_name, running)
        return running
    checkpoint = savepoints.latest_checkpoint(settings, settings.flink_job_name)
    return submit_in_subprocess(settings, from_checkpoint=checkpoint)


if __name__ == "__main__":
    _submit_from_stdin()
