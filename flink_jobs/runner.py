"""The analytics job's SQL as it is submitted: the files in `flink_jobs/sql/`, split into statements,
with their environment-specific placeholders (`${name}`) filled from the settings.

Submission lives in `flink_jobs/deploy.py`, savepoints and retention in `flink_jobs/savepoints.py`, the
commands in `flink_jobs/cli.py` (`streampulse flink ...`); `python -m flink_jobs.runner` runs those commands:

    python -m flink_jobs.runner render          # print the SQL as it would be submitted
    python -m flink_jobs.runner submit [--from-checkpoint PATH] [--topic T] [--database D]
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

import sqlparse

from streampulse.settings import Settings

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment

SQL_DIR = Path(__file__).resolve().parent / "sql"


def sql_version(sql_dir: Path | None = None) -> str:
    """A short content hash of the SQL files: which logic a running job was started with."""
    digest = hashlib.sha256()
    for path in sorted(Path(sql_dir or SQL_DIR).glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, without comments or the final `;`. sqlparse keeps an
    `EXECUTE STATEMENT SET BEGIN ... END` block whole (tests/unit/test_flink_sql.py)."""
    statements = (sqlparse.format(s, strip_comments=True).strip() for s in sqlparse.split(text))
    return [s.rstrip(";").rstrip() for s in statements if s.rstrip(";").strip()]


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
                # Rows come in bursts when windows close (~46,000 content x region rows a minute at 20,000
                # events/s). A full buffer is flushed in the task's own thread, which then stops passing
                # rows and the watermark on: trending, chained behind the content x region sink, waited for
                # those writes. The buffer holds a burst; the flush interval writes it (issue 16).
                "sink.buffer-flush.max-rows": "100000",
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


def _creates(statement: str, table: str) -> bool:
    """Whether the statement is `CREATE TABLE <table> ...` (words compared, not patterns)."""
    return [w.lower().partition("(")[0] for w in statement.split()[:3]] == ["create", "table", table.lower()]


# Views that several queries read and that the planner would build once per query: it expands a view into
# each query, where the copies prune different columns (classified_events: two partition clocks) or get fresh
# correlation variables (surplus_copies: the copies of its UNNEST never look alike, nor the detectors under
# them). Registered from a Table, every query reads one plan node.
SHARED_VIEWS = ("classified_events", "surplus_copies")
_VIEW = re.compile(r"\s*CREATE\s+TEMPORARY\s+VIEW\s+(\w+)\s+AS\s+(.*)", re.IGNORECASE | re.DOTALL)


def execute(env: TableEnvironment, statement: str) -> None:
    """Execute one rendered statement (not the job's): a shared view is registered from its query."""
    view = _VIEW.match(statement)
    if view and view.group(1) in SHARED_VIEWS:
        env.create_temporary_view(view.group(1), env.sql_query(view.group(2)))
    else:
        env.execute_sql(statement)


def render_statements(
    values: dict[str, str], sql_dir: Path = SQL_DIR, source_options: dict[str, str] | None = None
) -> list[str]:
    """The statements to execute, in file order; `source_options` are set on the source table right after
    its CREATE, with Flink's own `ALTER TABLE ... SET` (an option given there replaces the file's value)."""
    statements: list[str] = []
    for path in sorted(Path(sql_dir).glob("*.sql")):
        try:
            text = Template(path.read_text()).substitute(values)
        except KeyError as exc:
            raise SystemExit(f"{path}: unknown placeholder ${{{exc.args[0]}}}") from None
        for statement in split_statements(text):
            statements.append(statement)
            if source_options and _creates(statement, SOURCE_TABLE):
                options = ", ".join(f"'{key}' = '{value}'" for key, value in source_options.items())
                statements.append(f"ALTER TABLE {SOURCE_TABLE} SET ({options})")
    return statements


def submit_in_subprocess(settings: Settings, **kwargs: object) -> str:
    """Kept for callers of the former runner API: see `flink_jobs.deploy.submit_in_subprocess`."""
    from flink_jobs import deploy

    return deploy.submit_in_subprocess(settings, **kwargs)


if __name__ == "__main__":
    from flink_jobs.cli import app

    app()
