"""Submit the StreamPulse analytics job (the SQL files in `flink_jobs/sql/`) to a Flink cluster.

The SQL is the job; this runner only fills environment-specific placeholders (`${name}`) from the
settings, opens a remote TableEnvironment against the cluster's REST endpoint, ships the connector
jars with the job, and submits. No Python runs inside the job.

    python -m flink_jobs.runner submit [--from-checkpoint PATH] [--topic T] [--database D]
    python -m flink_jobs.runner render          # print the SQL as it would be submitted
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from string import Template
from typing import Annotated
from urllib.parse import urlsplit

import httpx
import typer

from streampulse.settings import Settings, get_settings

SQL_DIR = Path(__file__).resolve().parent / "sql"
JOB_NAME = "streampulse-analytics"
ACTIVE_STATES = {"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING"}


def sql_version(sql_dir: Path | None = None) -> str:
    """A short content hash of the SQL files: which logic a running job was started with."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(sql_dir or SQL_DIR).glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def split_statements(text: str) -> list[str]:
    """Split a SQL script on `;` at line ends; an EXECUTE STATEMENT SET block stays whole."""
    statements: list[str] = []
    current: list[str] = []
    in_set = False
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            continue
        current.append(line)
        if re.match(r"(?i)^EXECUTE\s+STATEMENT\s+SET", stripped):
            in_set = True
        if in_set:
            if re.match(r"(?i)^END\s*;\s*$", stripped):
                statements.append("\n".join(current).rstrip().rstrip(";"))
                current, in_set = [], False
        elif stripped.endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current))
    return statements


def placeholders(
    settings: Settings,
    topic: str,
    database: str | None,
    group_id: str,
    alerts_topic: str | None = None,
    masked: bool = False,
    realtime_schema: str = "realtime",
) -> dict[str, str]:
    """The values of the SQL files' ${placeholders}; `masked` hides the password (for printing)."""
    user, password = settings.jdbc_credentials()
    return {
        "events_topic": topic,
        "alerts_topic": alerts_topic or settings.alerts_topic,
        # The PostgreSQL schema the sinks write: `realtime`, or a replay's versioned copy (flink_jobs/replay.py).
        "realtime_schema": realtime_schema,
        "job_name": group_id,
        "trending_top_n": str(settings.trending_top_n),
        "min_requests": str(settings.anomaly_min_requests),
        "error_rate_threshold": str(settings.anomaly_error_rate_threshold),
        "latency_p95_threshold_ms": str(settings.anomaly_latency_p95_threshold_ms),
        "regional_error_rate_threshold": str(settings.anomaly_regional_error_rate_threshold),
        "bootstrap_servers": settings.bootstrap_servers,
        "registry_url": settings.registry_url,
        "group_id": group_id,
        "jdbc_sink_options": ", ".join(
            f"'{key}' = '{value}'"
            for key, value in {
                "connector": "jdbc",
                "url": settings.jdbc_url(database),
                "username": user,
                "password": "******" if masked else password.replace("'", "''"),
                "sink.buffer-flush.interval": settings.sink_flush_interval,
                "sink.buffer-flush.max-rows": "5000",
                "sink.max-retries": "5",
            }.items()
        ),
        "watermark_delay_s": str(settings.watermark_delay_seconds),
        "idle_timeout_s": str(settings.source_idle_timeout_seconds),
    }


SOURCE_TABLE = "content_events_raw"
# A bounded replay: read each partition from its earliest offset to the end offset seen at start, then
# finish (the sources' final watermark closes every window). Used by flink_jobs/replay.py.
BOUNDED_SOURCE_OPTIONS = {"scan.startup.mode": "earliest-offset", "scan.bounded.mode": "latest-offset"}


def with_source_options(statement: str, options: dict[str, str]) -> str:
    """The source table's CREATE statement with these connector options set (replaced or added)."""
    for key, value in options.items():
        pattern = re.compile(rf"'{re.escape(key)}'\s*=\s*'[^']*'")
        option = f"'{key}' = '{value}'"
        if pattern.search(statement):
            statement = pattern.sub(option, statement)
        else:
            head, _, tail = statement.rpartition(")")
            statement = f"{head.rstrip()},\n    {option}\n){tail}"
    return statement


def render_statements(
    values: dict[str, str], sql_dir: Path = SQL_DIR, source_options: dict[str, str] | None = None
) -> list[str]:
    statements: list[str] = []
    for path in sorted(Path(sql_dir).glob("*.sql")):
        try:
            text = Template(path.read_text()).substitute(values)
        except KeyError as exc:
            raise SystemExit(f"{path}: unknown placeholder ${{{exc.args[0]}}}") from None
        statements += split_statements(text)
    if source_options:
        create = re.compile(rf"(?is)^\s*CREATE\s+TABLE\s+{SOURCE_TABLE}\b")
        statements = [with_source_options(s, source_options) if create.match(s) else s for s in statements]
    return statements


def submit(
    settings: Settings,
    topic: str | None = None,
    database: str | None = None,
    job_name: str = JOB_NAME,
    from_checkpoint: str | None = None,
    alerts_topic: str | None = None,
    sql_dir: Path = SQL_DIR,
    realtime_schema: str = "realtime",
    bounded: bool = False,
) -> str:
    """Submit the job and return its id. Runs a PyFlink client JVM in this process.

    `realtime_schema` redirects every PostgreSQL sink; `bounded` reads the topic from its earliest to its
    current end offsets and then finishes (a replay)."""
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    jars = settings.flink_connector_jars()
    if not jars:
        raise SystemExit(f"No connector jars in {settings.lib_dir / 'flink'}: run `make setup`.")
    rest = urlsplit(settings.flink_url)
    config = Configuration()
    for key, value in {
        "execution.target": "remote",
        "rest.address": rest.hostname,
        "rest.port": str(rest.port or 8081),
        "pipeline.name": job_name,
        "pipeline.jars": ";".join(p.as_uri() for p in jars),
        "parallelism.default": str(settings.flink_parallelism),
        "execution.checkpointing.interval": f"{settings.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.min-pause": "1 s",
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": f"{settings.source_idle_timeout_seconds} s",
        # Only the late-events count keeps unbounded keyed state (one key per minute): expire it.
        "table.exec.state.ttl": "1 d",
        # Mini-batch (local-global) aggregation is deliberately off: with it, Flink 2.0 evaluated
        # CURRENT_WATERMARK ahead of the records and classified on-time events as late (caught by
        # tests/e2e/test_stream_analytics.py). It was worth about 30% of catch-up throughput.
        "execution.attached": "false",
        # The SQL version travels with the job (Flink UI and REST: /jobs/<id>/config, user-config).
        "pipeline.global-job-parameters": f"sql_version:{sql_version(sql_dir)}",
    }.items():
        config.set_string(key, value)
    if not settings.flink_external:
        # One checkpoint folder per job name on the local cluster: a restore from disk (after the REST
        # API forgot earlier runs) can then only pick this job's own state, never another job's.
        config.set_string("execution.checkpointing.dir", checkpoint_root(settings, job_name).as_uri())
    if from_checkpoint:
        config.set_string("execution.state-recovery.path", from_checkpoint)
    env = TableEnvironment.create(
        EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    )
    values = placeholders(
        settings, topic or settings.events_topic, database, job_name, alerts_topic, realtime_schema=realtime_schema
    )
    result = None
    for statement in render_statements(values, sql_dir, BOUNDED_SOURCE_OPTIONS if bounded else None):
        result = env.execute_sql(statement)
    if result is None or result.get_job_client() is None:
        raise SystemExit("The SQL files contain no INSERT: nothing was submitted.")
    return str(result.get_job_client().get_job_id())


def find_running_job(settings: Settings, job_name: str = JOB_NAME) -> str | None:
    """Id of an active job with this name on the cluster, or None."""
    response = httpx.get(f"{settings.flink_url}/jobs/overview", timeout=10)
    response.raise_for_status()
    for job in response.json().get("jobs", []):
        if job["name"] == job_name and job["state"] in ACTIVE_STATES:
            return job["jid"]
    return None


def latest_checkpoint(settings: Settings, job_name: str = JOB_NAME) -> str | None:
    """Newest retained checkpoint of any earlier run of the job: from the REST API, else the local dir."""
    try:
        jobs = httpx.get(f"{settings.flink_url}/jobs/overview", timeout=10).json().get("jobs", [])
        for job in sorted(jobs, key=lambda j: j.get("start-time", 0), reverse=True):
            if job["name"] != job_name:
                continue
            stats = httpx.get(f"{settings.flink_url}/jobs/{job['jid']}/checkpoints", timeout=10).json()
            path = ((stats.get("latest") or {}).get("completed") or {}).get("external_path")
            if path:
                return path
    except httpx.HTTPError:
        pass
    metas = sorted(checkpoint_root(settings, job_name).glob("*/chk-*/_metadata"), key=lambda p: p.stat().st_mtime)
    return metas[-1].parent.as_uri() if metas else None


def checkpoint_root(settings: Settings, job_name: str = JOB_NAME) -> Path:
    """Where the local cluster keeps this job name's checkpoints: <root>/<job name>/<job id>/chk-N."""
    return settings.data_dir / "flink" / "checkpoints" / job_name


def submit_in_subprocess(
    settings: Settings, env: dict[str, str] | None = None, timeout_s: float = 600, **kwargs: str | bool | None
) -> str:
    """Submit from a fresh process (the PyFlink client starts its own JVM); return the job id.

    The child reads its settings from the environment: `env` overrides some (e.g. STREAMPULSE_FLINK_PARALLELISM,
    an anomaly threshold for a replay). A True value is passed as a flag (`bounded=True` -> `--bounded`)."""
    import os

    args = [sys.executable, "-m", "flink_jobs.runner", "submit", "--json"]
    for key, value in kwargs.items():
        if value is True:
            args.append(f"--{key.replace('_', '-')}")
        elif value is not None and value is not False:
            args += [f"--{key.replace('_', '-')}", value]
    log_file = settings.log_dir / "flink-submit.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as err:
        result = subprocess.run(
            args, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout_s, env={**os.environ, **(env or {})}
        )
    if result.returncode != 0:
        raise RuntimeError(f"Submitting the Flink job failed (exit {result.returncode}); read {log_file}")
    return json.loads(result.stdout.strip().splitlines()[-1])["job_id"]


# ---------------------------------------------------------------------------------------------
# Operating the running job through the REST API: savepoints, restore points, retention.
# ---------------------------------------------------------------------------------------------
def jobs_named(settings: Settings, job_name: str = JOB_NAME) -> list[dict]:
    """Every job of this name the cluster remembers (active and finished), newest first."""
    response = httpx.get(f"{settings.flink_url}/jobs/overview", timeout=10)
    response.raise_for_status()
    jobs = [j for j in response.json().get("jobs", []) if j["name"] == job_name]
    return sorted(jobs, key=lambda j: j.get("start-time", 0), reverse=True)


def _wait_for_savepoint(settings: Settings, job_id: str, trigger_id: str, timeout_s: float) -> str:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = httpx.get(f"{settings.flink_url}/jobs/{job_id}/savepoints/{trigger_id}", timeout=10).json()
        if status.get("status", {}).get("id") == "COMPLETED":
            operation = status.get("operation", {})
            if "location" in operation:
                return operation["location"]
            cause = operation.get("failure-cause", {}).get("stack-trace", "unknown cause")
            raise RuntimeError(f"Savepoint of job {job_id} failed: {cause.splitlines()[0]}")
        time.sleep(0.5)
    raise TimeoutError(f"Savepoint of job {job_id} did not complete within {timeout_s:.0f} s")


def trigger_savepoint(settings: Settings, job_id: str, timeout_s: float = 300) -> str:
    """Take a savepoint of a running job (it keeps running); return the savepoint's path."""
    response = httpx.post(f"{settings.flink_url}/jobs/{job_id}/savepoints", json={"cancel-job": False}, timeout=10)
    response.raise_for_status()
    return _wait_for_savepoint(settings, job_id, response.json()["request-id"], timeout_s)


def stop_with_savepoint(settings: Settings, job_id: str, timeout_s: float = 300) -> str:
    """Stop the job gracefully with a final savepoint (no record is processed after it); return its path."""
    response = httpx.post(f"{settings.flink_url}/jobs/{job_id}/stop", json={"drain": False}, timeout=10)
    response.raise_for_status()
    return _wait_for_savepoint(settings, job_id, response.json()["request-id"], timeout_s)


def job_sql_version(settings: Settings, job_id: str) -> str | None:
    """The SQL version a job was submitted with (a global job parameter set by `submit`)."""
    config = httpx.get(f"{settings.flink_url}/jobs/{job_id}/config", timeout=10).json()
    return (config.get("execution-config", {}).get("user-config") or {}).get("sql_version")


def _exists(path: str) -> bool:
    """A file:// restore point still on disk (other schemes cannot be checked here: assume yes)."""
    if not path.startswith("file:"):
        return True
    local = Path(urlsplit(path).path)
    return (local / "_metadata").exists() or local.name == "_metadata" and local.exists()


def latest_restore_point(settings: Settings, job_name: str = JOB_NAME) -> str | None:
    """Newest retained state of the job's latest run that has one: its last checkpoint or savepoint,
    or, when it took none yet, the state it was itself restored from."""
    for job in jobs_named(settings, job_name):
        stats = httpx.get(f"{settings.flink_url}/jobs/{job['jid']}/checkpoints", timeout=10).json()
        latest = stats.get("latest") or {}
        candidates = [
            (entry.get("latest_ack_timestamp") or 0, entry.get("external_path"))
            for entry in (latest.get("completed"), latest.get("savepoint"))
            if entry
        ]
        restored = latest.get("restored")
        if restored:
            candidates.append((restored.get("restore_timestamp") or 0, restored.get("external_path")))
        for _, path in sorted(candidates, key=lambda c: c[0], reverse=True):
            if path and _exists(path):
                return path
    return None


def prune_retained_state(
    settings: Settings, max_age_s: float, keep_savepoints: int, protect: frozenset[str] = frozenset()
) -> list[Path]:
    """Delete checkpoint folders of jobs that no longer run and savepoints beyond the newest
    `keep_savepoints`, when older than `max_age_s`. Never touches an active job's folder or a
    path in `protect` (the restore point the platform job would resume from)."""
    import shutil
    import time

    response = httpx.get(f"{settings.flink_url}/jobs/overview", timeout=10)
    response.raise_for_status()
    active = {j["jid"] for j in response.json().get("jobs", []) if j["state"] in ACTIVE_STATES}
    protected = [Path(urlsplit(p).path) for p in protect if p]
    cutoff = time.time() - max_age_s
    root = settings.data_dir / "flink"

    def newest_mtime(folder: Path) -> float:
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])

    def guarded(folder: Path) -> bool:
        return any(p == folder or folder in p.parents for p in protected)

    # Job folders: <root>/<job id> (clusters' default layout) and <root>/<job name>/<job id> (ours).
    job_folders = []
    for folder in sorted((root / "checkpoints").glob("*")):
        if re.fullmatch(r"[0-9a-f]{32}", folder.name):
            job_folders.append(folder)
        elif folder.is_dir():
            job_folders += [f for f in sorted(folder.glob("*")) if re.fullmatch(r"[0-9a-f]{32}", f.name)]
    removed: list[Path] = []
    for folder in job_folders:
        if folder.is_dir() and folder.name not in active and not guarded(folder) and newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    savepoints = sorted((root / "savepoints").glob("savepoint-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in savepoints[keep_savepoints:]:
        if not guarded(folder) and newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


cli = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=True)


@cli.command("submit")
def submit_command(
    topic: Annotated[str | None, typer.Option(help="Events topic (default from settings).")] = None,
    database: Annotated[str | None, typer.Option(help="PostgreSQL database for the sinks.")] = None,
    job_name: Annotated[str, typer.Option(help="Flink job name; also the Kafka consumer group.")] = JOB_NAME,
    from_checkpoint: Annotated[str | None, typer.Option(help="Restore from this checkpoint/savepoint.")] = None,
    alerts_topic: Annotated[str | None, typer.Option(help="Alerts topic (default from settings).")] = None,
    sql_dir: Annotated[Path, typer.Option(help="Directory of the job's SQL files.")] = SQL_DIR,
    realtime_schema: Annotated[str, typer.Option(help="PostgreSQL schema the sinks write.")] = "realtime",
    bounded: Annotated[
        bool, typer.Option(help="Read from the earliest to the current end offsets, then finish.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {job_id, sql_version} as JSON.")] = False,
) -> None:
    """Submit the job to the cluster at STREAMPULSE_FLINK_REST_URL (default: the local cluster)."""
    job_id = submit(
        get_settings(), topic, database, job_name, from_checkpoint, alerts_topic, sql_dir, realtime_schema, bounded
    )
    version = sql_version(sql_dir)
    if as_json:
        print(json.dumps({"job_id": job_id, "sql_version": version, "from_checkpoint": from_checkpoint}))
    else:
        print(f"submitted {job_name}: job id {job_id} (SQL {version})")


@cli.command("render")
def render_command(topic: str | None = None, database: str | None = None) -> None:
    """Print the statements as they would be submitted (the password is masked)."""
    settings = get_settings()
    values = placeholders(settings, topic or settings.events_topic, database, JOB_NAME, masked=True)
    for statement in render_statements(values):
        print(statement + ";\n")


if __name__ == "__main__":
    cli()
