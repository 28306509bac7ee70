"""Replay for bug fixes: reprocess an event-time range from Kafka with a changed rule into a versioned copy of
the real-time tables, show what changed, then promote the range into `realtime.*` in one transaction.

    streampulse replay run --start 2026-01-01T00:00 --end 2026-01-01T00:16 --set anomaly_error_rate_threshold=0.3
    streampulse replay promote --version 3 --start ... --end ...

How it works, and why:
- `realtime_v<N>` is a new schema with every real-time table created `LIKE realtime.<table> INCLUDING ALL`
  (same columns, defaults, keys and indexes as the migrations made them, whatever migration ran last).
- The same job (flink_jobs/sql, unchanged) runs *bounded* with its sinks pointed at `realtime_v<N>`: it reads
  the topic from the earliest offset to the end offsets at submission, its sources' final watermark closes
  every window, and it finishes by itself. Its consumer group and alerts topic are its own, so the live job
  and alert consumers see nothing of it. The changed rule is a settings override (any `Settings` field,
  e.g. an anomaly threshold), handed to the submitting process as STREAMPULSE_<FIELD>.
- The diff compares `realtime` with `realtime_v<N>` row by row for the range (keys by primary key, floats
  to 1e-9, `written_at` ignored).
- Promotion copies rows, it does not rename schemas: in one transaction it locks the live tables against
  writes (readers keep reading the old rows, MVCC), moves the range's current rows into
  `realtime_v<N>_replaced` (the rollback copy) and inserts the replayed rows. Readers switch from all-old
  to all-new at the commit. Renaming schemas would be just as atomic, but views (dbt staging, the API's
  grants, `realtime.cdn_anomalies`) are bound to table OIDs and would keep reading the old tables, and
  the live job's sinks would have to be redirected; copying keeps every name, grant and view as it is,
  and the live job keeps writing the same tables (its writes wait for the lock, a few seconds at most).
- Kafka retention bounds the replay horizon: events older than `events_retention_hours` are gone.
  For a rule change, first upgrade the live job to the new rule (windows after the upgrade are then right),
  then replay the range before it and promote.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from flink_jobs import deploy
from flink_jobs.reconcile import TableDiff, diff
from flink_jobs.rest import FlinkRest
from streampulse import bootstrap
from streampulse.settings import Settings
from streampulse.waiting import wait_until

log = logging.getLogger(__name__)

LIVE_SCHEMA = "realtime"
# The tables a replay rewrites, with the rows of an event-time range [start, end) each holds.
RANGES = {
    "content_minute_stats": "window_start >= %(start)s and window_start < %(end)s",
    "content_region_minute_stats": "window_start >= %(start)s and window_start < %(end)s",
    "trending": "window_end > %(start)s and window_end <= %(end)s",
    "cdn_node_minute_stats": "window_start >= %(start)s and window_start < %(end)s",
    "cdn_alerts": "started_at >= %(start)s and started_at < %(end)s",
    "cdn_incidents": "started_at >= %(start)s and started_at < %(end)s",
    "late_events_minute": "event_minute >= %(start)s and event_minute < %(end)s",
}
# Written by the job, so they must exist in the versioned schema, but not rule-dependent: never promoted.
ALSO_CREATED = ("dead_letters", "late_events")
IGNORED_COLUMNS = {"written_at"}


def schema_of(version: int) -> str:
    return f"{LIVE_SCHEMA}_v{version}"


def next_version(conn: psycopg.Connection) -> int:
    names = conn.execute("select nspname from pg_namespace where nspname ~ '^realtime_v[0-9]+$'").fetchall()
    return 1 + max((int(n[0].removeprefix("realtime_v")) for n in names), default=0)


def create_versioned_schema(conn: psycopg.Connection, schema: str, source: str = LIVE_SCHEMA) -> None:
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    for table in [*RANGES, *ALSO_CREATED]:
        conn.execute(
            sql.SQL("create table {} (like {} including all)").format(
                sql.Identifier(schema, table), sql.Identifier(source, table)
            )
        )


def _check_names(overrides: dict[str, str]) -> None:
    unknown = [k for k in overrides if k not in Settings.model_fields]
    if unknown:
        raise ValueError(f"not a setting: {', '.join(unknown)}")


def with_overrides(settings: Settings, overrides: dict[str, str]) -> Settings:
    """The settings with a replay's changed rules (validated like the environment would be)."""
    _check_names(overrides)
    return Settings(**{**deploy.settings_payload(settings), **overrides})


def _wait_finished(settings: Settings, job_id: str, timeout_s: float) -> None:
    flink = FlinkRest.from_settings(settings)

    def finished() -> bool:
        state = flink.job_state(job_id)
        if state in ("FAILED", "CANCELED"):
            raise RuntimeError(f"replay job {job_id} ended {state}: see {flink.ui_url(job_id)}")
        return state == "FINISHED"

    try:
        wait_until(finished, f"replay job {job_id} finishing", timeout_s)
    except TimeoutError:
        flink.cancel(job_id, check=False)
        raise TimeoutError(f"replay job {job_id} did not finish within {timeout_s:.0f} s (cancelled)") from None


@dataclass
class Replay:
    version: int
    schema: str
    job_id: str
    overrides: dict[str, str]
    seconds: float


def run_replay(
    settings: Settings,
    overrides: dict[str, str] | None = None,
    topic: str | None = None,
    database: str | None = None,
    timeout_s: float = 1800,
) -> Replay:
    """Reprocess the topic (bounded, earliest to current end) with `overrides` into a new realtime_v<N>."""
    from confluent_kafka.admin import AdminClient

    overrides = overrides or {}
    changed = with_overrides(settings, overrides)
    topic = topic or settings.events_topic
    with psycopg.connect(settings.dsn(database), autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(hashtext('streampulse: replay version'))")
        version = next_version(conn)
        schema = schema_of(version)
        create_versioned_schema(conn, schema)
        info = sql.Identifier(schema, "replay_info")
        conn.execute(
            sql.SQL(
                "create table {} (topic text, overrides jsonb, created_at timestamptz default now(),"
                " job_id text, promoted jsonb default '[]')"
            ).format(info)
        )
        conn.execute(
            sql.SQL("insert into {} (topic, overrides) values (%s, %s)").format(sql.Identifier(schema, "replay_info")),
            (topic, json.dumps(overrides)),
        )
    # The replay's anomalies go to a topic of its own: alert consumers must not see them twice.
    alerts_topic = f"{topic}-replay-v{version}-alerts"
    bootstrap.ensure_topic(settings, alerts_topic, partitions=1)
    started = time.monotonic()
    try:
        job_id = deploy.submit_in_subprocess(
            changed,
            topic=topic,
            database=database,
            job_name=f"streampulse-replay-{topic}-v{version}",
            alerts_topic=alerts_topic,
            realtime_schema=schema,
            bounded=True,
        )
        log.info("replay v%d: job %s running with %s", version, job_id, overrides or "the current rules")
        _wait_finished(settings, job_id, timeout_s)
    finally:
        AdminClient({"bootstrap.servers": settings.bootstrap_servers}).delete_topics([alerts_topic])
    with psycopg.connect(settings.dsn(database), autocommit=True) as conn:
        conn.execute(sql.SQL("update {} set job_id = %s").format(sql.Identifier(schema, "replay_info")), (job_id,))
    return Replay(version, schema, job_id, overrides, time.monotonic() - started)


def _table_rows(conn: psycopg.Connection, schema: str, table: str, start: datetime, end: datetime) -> dict:
    keys = [
        r[0]
        for r in conn.execute(
            "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid"
            " and a.attnum = any(i.indkey) where i.indrelid = %s::regclass and i.indisprimary order by a.attnum",
            (f"{schema}.{table}",),
        )
    ]
    columns = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
            " order by ordinal_position",
            (schema, table),
        )
        if r[0] not in IGNORED_COLUMNS and r[0] not in keys
    ]
    query = sql.SQL("select {}, {} from {} where ").format(
        sql.SQL(", ").join(map(sql.Identifier, keys)),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.Identifier(schema, table),
    ) + sql.SQL(RANGES[table])
    rows = conn.execute(query, {"start": start, "end": end}).fetchall()
    return {tuple(r[: len(keys)]): tuple(r[len(keys) :]) for r in rows}


def diff_versions(
    settings: Settings, version: int, start: datetime, end: datetime, database: str | None = None
) -> list[TableDiff]:
    """Per table: rows the replay adds (extra), drops (missing) and changes, against the live tables."""
    schema = schema_of(version)
    with psycopg.connect(settings.dsn(database)) as conn:
        return [
            diff(table, _table_rows(conn, LIVE_SCHEMA, table, start, end), _table_rows(conn, schema, table, start, end))
            for table in RANGES
        ]


def render_diff(version: int, start: datetime, end: datetime, diffs: list[TableDiff], examples: int = 5) -> str:
    lines = [f"Replay v{version} against {LIVE_SCHEMA}, event time [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}) UTC"]
    for d in diffs:
        status = "unchanged" if d.ok else f"{len(d.extra)} new, {len(d.missing)} gone, {len(d.differing)} changed"
        lines.append(f"  {d.table:<28} {d.compared:>9} rows: {status}")
    for d in diffs:
        for label, items in (("new", d.extra), ("gone", d.missing), ("changed", d.differing)):
            lines += [f"    {d.table} {label}: {item}" for item in items[:examples]]
    return "\n".join(lines)


def promote(settings: Settings, version: int, start: datetime, end: datetime, database: str | None = None) -> dict:
    """Replace the range's rows of the live tables by the replay's, in one transaction; return rows per table.

    The replaced rows are kept in `realtime_v<N>_replaced` (rollback: promote them back the same way)."""
    schema = schema_of(version)
    replaced = f"{schema}_replaced"
    counts: dict[str, dict[str, int]] = {}
    params = {"start": start, "end": end}
    with psycopg.connect(settings.dsn(database)) as conn, conn.transaction():
        conn.execute("set local lock_timeout = '30s'")
        # Writers (the live job's sinks) wait; readers keep reading the old rows until the commit.
        conn.execute(
            sql.SQL("lock table {} in share row exclusive mode").format(
                sql.SQL(", ").join(sql.Identifier(LIVE_SCHEMA, t) for t in RANGES)
            )
        )
        exists = conn.execute("select 1 from pg_namespace where nspname = %s", (replaced,)).fetchone()
        if not exists:
            create_versioned_schema(conn, replaced)
        for table in RANGES:
            live, new, old = (sql.Identifier(s, table) for s in (LIVE_SCHEMA, schema, replaced))
            where = sql.SQL(RANGES[table])
            gone = conn.execute(
                sql.SQL("with gone as (delete from {} where {} returning *) insert into {} select * from gone").format(
                    live, where, old
                ),
                params,
            ).rowcount
            added = conn.execute(
                sql.SQL("insert into {} select * from {} where {}").format(live, new, where), params
            ).rowcount
            counts[table] = {"replaced": gone, "promoted": added}
        conn.execute(
            sql.SQL("update {} set promoted = promoted || %s::jsonb").format(sql.Identifier(schema, "replay_info")),
            (json.dumps([{"start": start.isoformat(), "end": end.isoformat(), "at": datetime.now().isoformat()}]),),
        )
    return counts


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        match = re.fullmatch(r"([a-z_][a-z0-9_]*)=(.*)", pair.strip())
        if not match:
            raise ValueError(f"expected name=value, got {pair!r}")
        out[match[1]] = match[2]
    _check_names(out)
    return out
