"""Reconciliation: recompute the real-time tables for a time range straight from the Kafka topic (an
independent consumer and `flink_jobs.oracle`, not the job's SQL) and diff them against PostgreSQL.

What is compared, for windows that start in [start, end), with nothing skipped:
- every row of content_minute_stats, content_region_minute_stats, cdn_node_minute_stats, trending,
  cdn_alerts and cdn_incidents, value by value (floats to 1e-9 relative), minutes with late events
  and duplicates included;
- every late event, record by record (late_events, by partition and offset), and the late counts per
  minute: the oracle decides lateness the way the job does, from each partition's own order
  (`oracle.classify`), so a late event the job missed, or an on-time event it took as late
  (misclassified_late), shows;
- a tally per minute: events in Kafka = events in the windows + late events + duplicates (retries of
  an event_id already counted in its minute). More in the tables than in Kafka is "doubled", fewer
  is "lost";
- dead letters: every record of the topic that does not decode has exactly one row, by (partition, offset).

The default end is the last minute whose windows the job has closed: the smallest per-partition maximum
event time minus the watermark delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from psycopg import sql

from flink_jobs import oracle
from flink_jobs.oracle import MINUTE, TopicRecords, ts
from streampulse.settings import Settings

EXAMPLES = 5


@dataclass
class TableDiff:
    """One table's comparison: keys only in the recomputation (missing), only in PostgreSQL (extra), differing."""

    table: str
    compared: int = 0
    missing: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    differing: list = field(default_factory=list)  # (key, expected, found)
    skipped: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.differing)

    def line(self) -> str:
        status = (
            "ok" if self.ok else f"{len(self.missing)} missing, {len(self.extra)} extra, {len(self.differing)} differ"
        )
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        note = f" ({self.note})" if self.note else ""
        return f"  {self.table:<28} {self.compared:>9} rows compared{skipped}: {status}{note}"


@dataclass
class Report:
    topic: str
    target: str  # database.schema
    start: datetime
    end: datetime
    kafka_events: int  # decodable events with an event time in [start, end)
    counted_events: int  # the same, as the tables count them (windows + late)
    lost: int
    doubled: int
    late_events: int
    duplicates: int
    misclassified_late: int  # events the job took as late that were on time by their partition's clock
    tables: list[TableDiff]
    dead_letters: TableDiff
    minutes: list[dict] = field(default_factory=list)  # per minute: kafka, table_events, late, duplicates

    @property
    def rows_compared(self) -> int:
        return sum(t.compared for t in self.tables)

    @property
    def rows_skipped(self) -> int:
        return sum(t.skipped for t in self.tables)

    @property
    def ok(self) -> bool:
        return (
            self.start < self.end
            and self.kafka_events > 0  # an empty range proves nothing
            and self.lost == 0
            and self.doubled == 0
            and self.misclassified_late == 0
            and self.rows_skipped == 0
            and self.dead_letters.ok
            and all(t.ok for t in self.tables)
        )

    def render(self) -> str:
        lines = [
            f"Reconciliation of topic {self.topic} against {self.target}",
            f"  event time [{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M}) UTC",
            f"  events in Kafka {self.kafka_events}, counted by the tables {self.counted_events} "
            f"(late {self.late_events}, duplicates {self.duplicates}): lost {self.lost}, doubled {self.doubled}, "
            f"misclassified late {self.misclassified_late}",
            f"  rows compared {self.rows_compared}, skipped {self.rows_skipped}",
            *(t.line() for t in self.tables),
            self.dead_letters.line(),
        ]
        for t in [*self.tables, self.dead_letters]:
            for label, items in (("missing", t.missing), ("extra", t.extra), ("differs", t.differing)):
                for item in items[:EXAMPLES]:
                    lines.append(f"    {t.table} {label}: {item}")
        lines.append("RESULT: " + ("OK, nothing lost, nothing doubled" if self.ok else "DIFFERENCES FOUND"))
        return "\n".join(lines)

    def summary(self) -> dict:
        return {
            "ok": self.ok,
            "kafka_events": self.kafka_events,
            "lost": self.lost,
            "doubled": self.doubled,
            "late_events": self.late_events,
            "duplicates": self.duplicates,
            "misclassified_late": self.misclassified_late,
            "rows_compared": self.rows_compared,
            "rows_skipped": self.rows_skipped,
            "tables": {t.table: {"compared": t.compared, "missing": len(t.missing), "extra": len(t.extra),
                                 "differing": len(t.differing), "skipped": t.skipped} for t in self.tables},
            "minutes": self.minutes,
            "dead_letters": {"compared": self.dead_letters.compared, "missing": len(self.dead_letters.missing),
                             "extra": len(self.dead_letters.extra)},
        }  # fmt: skip


def _same(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) or isinstance(y, float):
            if x is None or y is None or not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


def diff(table: str, want: dict, got: dict) -> TableDiff:
    """Compare two {key: values} maps: every key of either side is compared (nothing is skipped)."""
    result = TableDiff(table)
    for key in want.keys() | got.keys():
        result.compared += 1
        if key not in got:
            result.missing.append((key, want[key]))
        elif key not in want:
            result.extra.append((key, got[key]))
        elif not _same(tuple(want[key]), tuple(got[key])):
            result.differing.append((key, want[key], got[key]))
    return result


def default_range(records: TopicRecords, settings: Settings) -> tuple[datetime, datetime]:
    """From the first event's minute to the last minute whose windows the job has closed."""
    events = records.events
    if events.empty:
        raise ValueError("the topic holds no decodable event")
    start = int(events["minute_ms"].min())
    newest = events.groupby("partition")["event_ms"].max().min() - settings.watermark_delay_seconds * 1000
    return ts(start), ts(int(newest) // MINUTE * MINUTE)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _rows(conn: psycopg.Connection, query: str, schema: str, *params: object) -> list[tuple]:
    return conn.execute(sql.SQL(query).format(schema=sql.Identifier(schema)), params).fetchall()


def reconcile(
    settings: Settings,
    topic: str | None = None,
    database: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    schema: str = "realtime",
    records: TopicRecords | None = None,
) -> Report:
    """Recompute every real-time table for windows starting in [start, end) from Kafka and diff with PostgreSQL."""
    topic = topic or settings.events_topic
    records = records or oracle.read_topic(settings, topic, fields=oracle.RECONCILED_FIELDS)
    low, high = default_range(records, settings) if not (start and end) else (start, end)
    # Whole minutes: every table's rows, and the late events, are then selected by the same boundaries.
    start, end = _minute(start or low), _minute(end or high)
    s_ms, e_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    events = records.classified(settings.watermark_delay_seconds * 1000)
    minute = events["minute_ms"]
    in_range = events[(minute >= s_ms) & (minute < e_ms)]
    counted = oracle.counted(events)
    counted_in_range = oracle.counted(in_range)

    with psycopg.connect(settings.dsn(database)) as conn:
        late_minutes_sql = (
            "select event_minute, late_events from {schema}.late_events_minute"
            " where event_minute >= %s and event_minute < %s"
        )
        got_late_minutes = dict(_rows(conn, late_minutes_sql, schema, start, end))
        late_sql = (
            "select kafka_partition, kafka_offset, event_id, event_time from {schema}.late_events"
            " where kafka_topic = %s and event_time >= %s and event_time < %s"
        )
        got_late = _rows(conn, late_sql, schema, topic, start, end)
        got_content = _rows(
            conn,
            """
            select content_id, window_start, events, downloads_started, downloads_completed, downloads_failed,
                   streams_started, streams_ended, purchases, bytes_sent, distinct_users, ttfb_avg_ms, ttfb_p95_ms
            from {schema}.content_minute_stats where window_start >= %s and window_start < %s""",
            schema,
            start,
            end,
        )
        got_region = _rows(conn, """
            select content_id, region, window_start, events, downloads_started, downloads_completed,
                   downloads_failed, streams_started, purchases, revenue_minor, currency, distinct_users
            from {schema}.content_region_minute_stats where window_start >= %s and window_start < %s""",
                           schema, start, end)  # fmt: skip
        got_cdn = _rows(
            conn,
            """
            select cdn_node, window_start, region, requests, errors, error_rate, ttfb_p50_ms, ttfb_p95_ms,
                   throughput_avg_kbps, bytes_sent
            from {schema}.cdn_node_minute_stats where window_start >= %s and window_start < %s""",
            schema,
            start,
            end,
        )
        got_trending = _rows(
            conn,
            """
            select trend_scope, window_end, rank_no, content_id, events, recent_events, earlier_events, score
            from {schema}.trending where window_end > %s and window_end <= %s""",
            schema,
            start,
            end,
        )
        got_alerts = _rows(
            conn,
            """
            select anomaly_kind, subject, started_at, detected_at, peak_value from {schema}.cdn_alerts
            where started_at >= %s and started_at < %s and detected_at <= %s""",
            schema,
            start,
            end,
            end,
        )
        got_incidents = _rows(conn, """
            select anomaly_kind, subject, started_at, ended_at, bad_minutes, peak_value from {schema}.cdn_incidents
            where started_at >= %s and started_at < %s and ended_at + interval '1 minute' <= %s""",
                              schema, start, end, end)  # fmt: skip
        has_dead_letters = conn.execute("select to_regclass(%s) is not null", (f"{schema}.dead_letters",)).fetchone()
        got_dead = (
            _rows(conn, "select kafka_partition, kafka_offset, error from {schema}.dead_letters where kafka_topic = %s",
                  schema, topic) if has_dead_letters[0] else []
        )  # fmt: skip

    late_in_range = in_range[in_range["late"]]
    want_late = {(int(r.partition), int(r.offset)): (int(r.event_id), ts(int(r.event_ms)))
                 for r in late_in_range.itertuples()}  # fmt: skip
    got_late_map = {(r[0], r[1]): (r[2], r[3]) for r in got_late}
    want_late_minutes = {ts(int(m)): int(n) for m, n in late_in_range.groupby("minute_ms").size().items()}
    tables = [
        diff("content_minute_stats", oracle.content_minute_stats(counted_in_range),
             {(r[0], r[1]): r[2:] for r in got_content}),
        diff("content_region_minute_stats", oracle.content_region_minute_stats(counted_in_range),
             {(r[0], r[1], r[2]): r[3:] for r in got_region}),
        diff("cdn_node_minute_stats", _cdn_expected(counted_in_range), {(r[0], r[1]): r[2:] for r in got_cdn}),
        diff("late_events", want_late, got_late_map),
        diff("late_events_minute", {k: (v,) for k, v in want_late_minutes.items()},
             {k: (v,) for k, v in got_late_minutes.items()}),
    ]  # fmt: skip
    # Trending windows end on whole minutes: the first one after the range's start (and after the first event).
    first_end = max(s_ms // MINUTE * MINUTE, int(minute.min()) if len(events) else 0) + MINUTE
    c_minute = counted["minute_ms"]
    window_events = counted[(c_minute >= first_end - 5 * MINUTE) & (c_minute < e_ms)]
    want_trending = oracle.trending(window_events, e_ms, settings.trending_top_n, first_end)
    tables.append(diff("trending", want_trending, {(r[0], r[1], r[2]): r[3:] for r in got_trending}))
    opened, resolved = oracle.expected_anomalies(counted[c_minute < e_ms], settings)
    opened = {k: v for k, v in opened.items() if start <= k[2] < end and v[0] <= end}
    resolved = {k: v for k, v in resolved.items() if start <= k[2] < end and v[0] + timedelta(minutes=1) <= end}
    tables.append(diff("cdn_alerts", opened, {(r[0], r[1], r[2]): r[3:] for r in got_alerts}))
    tables.append(diff("cdn_incidents", resolved, {(r[0], r[1], r[2]): r[3:] for r in got_incidents}))

    # The tally: per minute, Kafka's events against the windows' counts + the late counts + duplicates.
    kafka_per_minute = in_range.groupby("minute_ms").size().to_dict()
    duplicates_per_minute = in_range[in_range["duplicate"]].groupby("minute_ms").size().to_dict()
    table_events: dict[int, int] = {}
    for r in got_content:
        m = int(r[1].timestamp() * 1000)
        table_events[m] = table_events.get(m, 0) + r[2]
    late_per_minute = {int(m.timestamp() * 1000): n for m, n in got_late_minutes.items()}
    minutes = []
    lost = doubled = 0
    for m in sorted(kafka_per_minute.keys() | table_events.keys() | late_per_minute.keys()):
        row = {"minute": ts(m).isoformat(), "kafka": int(kafka_per_minute.get(m, 0)),
               "table_events": int(table_events.get(m, 0)), "late": int(late_per_minute.get(m, 0)),
               "duplicates": int(duplicates_per_minute.get(m, 0))}  # fmt: skip
        accounted = row["table_events"] + row["late"] + row["duplicates"]
        lost += max(0, row["kafka"] - accounted)
        doubled += max(0, accounted - row["kafka"])
        minutes.append(row)

    dead = diff("dead_letters", {k: () for k in records.undecodable}, {(r[0], r[1]): () for r in got_dead})
    return Report(
        topic=topic,
        target=f"{database or settings.database_name}.{schema}",
        start=start,
        end=end,
        kafka_events=len(in_range),
        counted_events=sum(table_events.values()) + sum(late_per_minute.values()),
        lost=lost,
        doubled=doubled,
        late_events=sum(late_per_minute.values()),
        duplicates=int(in_range["duplicate"].sum()),
        misclassified_late=len(got_late_map.keys() - want_late.keys()),
        tables=tables,
        dead_letters=dead,
        minutes=minutes,
    )


def _cdn_expected(on_time: pd.DataFrame) -> dict:
    columns = ["region", "requests", "errors", "error_rate", "ttfb_p50_ms", "ttfb_p95_ms", "throughput_avg_kbps",
               "bytes_sent"]  # fmt: skip
    return {
        (w["subject"], ts(int(w["minute_ms"]))): tuple(None if pd.isna(w[c]) else w[c] for c in columns)
        for w in oracle.cdn_node_minutes(on_time).to_dict("records")
    }
