"""The independent computation: every real-time table recomputed in plain Python (pandas, numpy) from the
records as they are in Kafka, written from the documented semantics of the tables, not from the job's SQL.

Used by the end-to-end tests (through tests/e2e/expected.py), by `streampulse reconcile` and by the chaos
benchmark. Its own Kafka consumer reads partitions by assignment and commits nothing, so it never
disturbs the job's consumer group.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import fastavro
import numpy as np
import pandas as pd
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from streampulse.settings import Settings

MINUTE = 60_000
CHUNK = 200_000
REQUESTS = ("DOWNLOAD_COMPLETED", "DOWNLOAD_FAILED", "STREAM_STARTED")


def _consumer(settings: Settings, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": group, "enable.auto.commit": False})


def partitions_of(settings: Settings, topic: str) -> int:
    consumer = _consumer(settings, "streampulse-recompute")
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:
            raise RuntimeError(f"topic {topic}: {metadata.error}")
        return len(metadata.partitions)
    finally:
        consumer.close()


def end_offsets(settings: Settings, topic: str, partitions: int | None = None) -> list[int]:
    """The next offset of each partition (what a reader has to reach to have seen everything)."""
    partitions = partitions or partitions_of(settings, topic)
    consumer = _consumer(settings, "streampulse-recompute")
    try:
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]
    finally:
        consumer.close()


@dataclass
class TopicRecords:
    """A topic read once: the decoded events and the records that did not decode."""

    events: pd.DataFrame
    undecodable: dict[tuple[int, int], str] = field(default_factory=dict)  # (partition, offset) -> reason
    ends: list[int] = field(default_factory=list)
    _classified: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False)

    def classified(self, watermark_delay_ms: int) -> pd.DataFrame:
        """`classify(events)`, computed once per delay: a topic read once is reconciled range by range."""
        if watermark_delay_ms not in self._classified:
            self._classified[watermark_delay_ms] = classify(self.events, watermark_delay_ms)
        return self._classified[watermark_delay_ms]


# What the reconciliation reads of an event: the other fields (device, referrer, ...) feed no real-time table.
RECONCILED_FIELDS = ("event_id", "event_type", "event_time", "content_id", "user_id", "region", "cdn_node",
                     "bytes_sent", "ttfb_ms", "throughput_kbps", "error_code", "price_minor", "currency")  # fmt: skip


def read_topic(
    settings: Settings,
    topic: str,
    partitions: int | None = None,
    timeout_s: float = 600,
    fields: tuple[str, ...] | None = None,
) -> TopicRecords:
    """Every record up to the end offsets seen at the start, decoded with its writer schema from the registry.

    `fields`: keep only these event fields (and partition, offset): a week of events then fits in memory."""
    registry = SchemaRegistryClient({"url": settings.registry_url})
    schemas: dict[int, dict] = {}
    partitions = partitions or partitions_of(settings, topic)
    ends = end_offsets(settings, topic, partitions)
    consumer = _consumer(settings, "streampulse-recompute")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    rows: list[dict] = []
    frames: list[pd.DataFrame] = []  # rows become frames every CHUNK: a dict per event would need ~1.5 KB
    bad: dict[tuple[int, int], str] = {}
    position = [0] * partitions
    deadline = time.monotonic() + timeout_s
    try:
        while any(position[p] < ends[p] for p in range(partitions)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took longer than {timeout_s:.0f} s ({position} of {ends})")
            for msg in consumer.consume(20_000, timeout=1):
                if msg.error():
                    continue
                p, offset = msg.partition(), msg.offset()
                position[p] = max(position[p], offset + 1)
                if offset >= ends[p]:
                    continue
                try:
                    row = _decode(msg.value(), registry, schemas) | {"partition": p, "offset": offset}
                    if row.get("event_time") is None:
                        raise ValueError("no event time")  # the job dead-letters such a record too
                    rows.append(row)
                except SchemaRegistryError as exc:
                    if exc.http_status_code != 404:  # the registry failing is not the record's fault
                        raise
                    bad[(p, offset)] = f"{type(exc).__name__}: {exc}"
                except Exception as exc:  # noqa: BLE001 - any undecodable record is a dead letter
                    bad[(p, offset)] = f"{type(exc).__name__}: {exc}"
            if len(rows) >= CHUNK:
                frames.append(_compact(pd.DataFrame(rows), fields))
                rows = []
    finally:
        consumer.close()
    frames.append(_compact(pd.DataFrame(rows), fields))
    df = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(len(f) for f in frames) else frames[-1]
    if df.empty:
        df = pd.DataFrame(columns=["event_time", "content_id", "event_type", "partition", "offset"])
    df["event_ms"] = df["event_time"].map(lambda t: int(t.timestamp() * 1000)).astype("int64")
    df["minute_ms"] = df["event_ms"] // MINUTE * MINUTE
    return TopicRecords(df, bad, ends)


def _compact(frame: pd.DataFrame, fields: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Only `fields`, and text columns as Arrow strings: ~730 bytes an event as Python objects, ~260 so."""
    if fields is not None and not frame.empty:
        frame = frame[[c for c in frame.columns if c in fields or c in ("partition", "offset")]].copy()
    for column in frame.select_dtypes(include="object").columns:
        frame[column] = frame[column].astype("string[pyarrow]")
    return frame


def _decode(value: bytes | None, registry: SchemaRegistryClient, schemas: dict[int, dict]) -> dict:
    if value is None or len(value) < 5 or value[0] != 0:
        raise ValueError("not in the registry wire format")
    schema_id = int.from_bytes(value[1:5], "big")
    if schema_id not in schemas:
        schemas[schema_id] = fastavro.parse_schema(json.loads(registry.get_schema(schema_id).schema_str))
    buffer = io.BytesIO(value[5:])
    row = fastavro.schemaless_reader(buffer, schemas[schema_id], None)
    if buffer.tell() != len(value) - 5:
        raise ValueError("bytes left after the record")
    return row


def read_events(settings: Settings, topic: str, partitions: int | None = None) -> pd.DataFrame:
    """Every decodable record of the topic, with partition/offset, event_ms and minute_ms."""
    return read_topic(settings, topic, partitions).events


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _none(value: object) -> object:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def classify(events: pd.DataFrame, watermark_delay_ms: int) -> pd.DataFrame:
    """The events with the job's two decisions recomputed from Kafka's order: `late` and `duplicate`.

    late: the event's minute window [m, m + 1 min) had closed by its partition's clock, i.e. the highest
    event time its partition delivered up to and including it, minus the watermark delay, reached
    m + 1 min - 1 ms (when Flink fires a window). Only the order within a partition matters.
    duplicate: an on-time copy of an event_id already counted in the same minute window.
    Neither depends on arrival order across partitions, faults or restores, so this is exact.
    """
    if events.empty:
        return events.assign(late=pd.Series(dtype=bool), duplicate=pd.Series(dtype=bool))
    ordered = events.sort_values(["partition", "offset"], kind="stable")
    clock = ordered.groupby("partition", sort=False)["event_ms"].cummax()
    late = (ordered["minute_ms"] + MINUTE - 1) <= (clock - watermark_delay_ms)
    on_time = ordered[~late]
    duplicate = pd.Series(False, index=ordered.index)
    duplicate[on_time.index] = on_time.duplicated(["event_id", "minute_ms"], keep="first")
    return ordered.assign(late=late, duplicate=duplicate)


def counted(classified: pd.DataFrame) -> pd.DataFrame:
    """The events the windows count: on time, first copy of each event_id in its minute."""
    return classified[~classified["late"] & ~classified["duplicate"]]


def content_minute_stats(on_time: pd.DataFrame) -> dict:
    """(content_id, window_start) -> the row of realtime.content_minute_stats (without window_end)."""
    if on_time.empty:
        return {}
    t = on_time["event_type"]
    frame = pd.DataFrame({
        "content_id": on_time["content_id"], "minute_ms": on_time["minute_ms"],
        "ds": t == "DOWNLOAD_STARTED", "dc": t == "DOWNLOAD_COMPLETED", "df": t == "DOWNLOAD_FAILED",
        "ss": t == "STREAM_STARTED", "se": t == "STREAM_ENDED", "pu": t == "PURCHASE",
        "bytes": on_time["bytes_sent"].fillna(0).astype("int64"), "user": on_time["user_id"],
        "ttfb": on_time["ttfb_ms"].where(on_time["ttfb_ms"] != 0).astype(float),
    })  # fmt: skip
    g = frame.groupby(["content_id", "minute_ms"], sort=False)
    agg = g.agg(events=("ds", "size"), ds=("ds", "sum"), dc=("dc", "sum"), df=("df", "sum"), ss=("ss", "sum"),
                se=("se", "sum"), pu=("pu", "sum"), bytes=("bytes", "sum"), users=("user", "nunique"),
                ttfb_avg=("ttfb", "mean"))  # fmt: skip
    agg["ttfb_p95"] = g["ttfb"].quantile(0.95)
    out = {}
    for (content, minute), r in zip(agg.index, agg.itertuples(index=False), strict=True):
        out[(content, ts(int(minute)))] = (
            int(r.events), int(r.ds), int(r.dc), int(r.df), int(r.ss), int(r.se), int(r.pu), int(r.bytes),
            int(r.users), _none(float(r.ttfb_avg)), _none(float(r.ttfb_p95)),
        )  # fmt: skip
    return out


def content_region_minute_stats(on_time: pd.DataFrame) -> dict:
    """(content_id, region, window_start) -> the row of realtime.content_region_minute_stats."""
    if on_time.empty:
        return {}
    t = on_time["event_type"]
    frame = pd.DataFrame({
        "content_id": on_time["content_id"], "region": on_time["region"], "minute_ms": on_time["minute_ms"],
        "ds": t == "DOWNLOAD_STARTED", "dc": t == "DOWNLOAD_COMPLETED", "df": t == "DOWNLOAD_FAILED",
        "ss": t == "STREAM_STARTED", "pu": t == "PURCHASE",
        "price": on_time["price_minor"].fillna(0).astype("int64"), "user": on_time["user_id"],
    })  # fmt: skip
    keys = ["content_id", "region", "minute_ms"]
    agg = frame.groupby(keys, sort=False).agg(
        events=("ds", "size"), ds=("ds", "sum"), dc=("dc", "sum"), df=("df", "sum"), ss=("ss", "sum"),
        pu=("pu", "sum"), price=("price", "sum"), users=("user", "nunique"),
    )  # fmt: skip
    priced = on_time[on_time["currency"].notna()]
    currency = priced.groupby(keys, sort=False)["currency"].max() if len(priced) else pd.Series(dtype=object)
    out = {}
    for key, r in zip(agg.index, agg.itertuples(index=False), strict=True):
        content, region, minute = key
        out[(content, region, ts(int(minute)))] = (
            int(r.events), int(r.ds), int(r.dc), int(r.df), int(r.ss), int(r.pu), int(r.price),
            currency.get(key), int(r.users),
        )  # fmt: skip
    return out


def cdn_node_minutes(on_time: pd.DataFrame) -> pd.DataFrame:
    """One row per (edge node, minute) with requests: subject, minute_ms and the columns of cdn_node_minute_stats."""
    req = on_time[on_time["event_type"].isin(REQUESTS)]
    columns = ["subject", "minute_ms", "region", "requests", "errors", "error_rate", "ttfb_p50_ms", "ttfb_p95_ms",
               "throughput_avg_kbps", "bytes_sent"]  # fmt: skip
    if req.empty:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame({
        "subject": req["cdn_node"], "minute_ms": req["minute_ms"], "region": req["region"],
        "error": req["error_code"].notna(), "ttfb": req["ttfb_ms"].astype(float),
        "kbps": req["throughput_kbps"].where(req["throughput_kbps"] != 0).astype(float),
        "bytes": req["bytes_sent"].fillna(0).astype("int64"),
    })  # fmt: skip
    g = frame.groupby(["subject", "minute_ms"])
    out = g.agg(region=("region", "max"), requests=("error", "size"), errors=("error", "sum"),
                throughput_avg_kbps=("kbps", "mean"), bytes_sent=("bytes", "sum"))  # fmt: skip
    out["error_rate"] = out["errors"] / out["requests"]
    out["ttfb_p50_ms"] = g["ttfb"].quantile(0.5)
    out["ttfb_p95_ms"] = g["ttfb"].quantile(0.95)
    out = out.reset_index()
    out["requests"] = out["requests"].astype(int)
    out["errors"] = out["errors"].astype(int)
    out["bytes_sent"] = out["bytes_sent"].astype(int)
    return out[columns]


def cdn_region_minutes(on_time: pd.DataFrame) -> pd.DataFrame:
    """One row per (region, minute) with requests: the regional roll-up the outage pattern reads."""
    req = on_time[on_time["event_type"].isin(REQUESTS)]
    if req.empty:
        return pd.DataFrame(columns=["subject", "region", "minute_ms", "requests", "error_rate"])
    frame = pd.DataFrame({"region": req["region"], "minute_ms": req["minute_ms"], "error": req["error_code"].notna()})
    out = frame.groupby(["region", "minute_ms"]).agg(requests=("error", "size"), errors=("error", "sum")).reset_index()
    out["error_rate"] = out["errors"] / out["requests"]
    out["subject"] = out["region"]
    return out[["subject", "region", "minute_ms", "requests", "error_rate"]]


def trending(
    on_time: pd.DataFrame, last_window_end_ms: int, top_n: int = 10, first_window_end_ms: int | None = None
) -> dict:
    """Top N per scope (region, GLOBAL) for every 5-minute window sliding by a minute, from the minute counts."""
    out: dict = {}
    if on_time.empty:
        return out
    counts = on_time.groupby(["region", "content_id", "minute_ms"]).size().rename("n").reset_index()
    first = first_window_end_ms or int(counts["minute_ms"].min()) + MINUTE
    for end in range(first, last_window_end_ms + 1, MINUTE):
        window = counts[(counts["minute_ms"] >= end - 5 * MINUTE) & (counts["minute_ms"] < end)]
        if window.empty:
            continue
        window = window.assign(recent=np.where(window["minute_ms"] >= end - 2 * MINUTE, window["n"], 0))
        scopes = [*window.groupby("region"), ("GLOBAL", window)]
        for scope, part in scopes:
            stats = part.groupby("content_id").agg(events=("n", "sum"), recent=("recent", "sum"))
            stats = stats[stats["events"] >= 5]
            if stats.empty:
                continue
            stats["earlier"] = stats["events"] - stats["recent"]
            stats["score"] = [
                math.log(1 + e) * (r / 2 + 1) / (x / 3 + 1)
                for e, r, x in zip(stats["events"], stats["recent"], stats["earlier"], strict=True)
            ]
            ranked = stats.reset_index().sort_values(["score", "content_id"], ascending=[False, True]).head(top_n)
            for rank, row in enumerate(ranked.itertuples(), start=1):
                out[(scope, ts(end), rank)] = (row.content_id, int(row.events), int(row.recent), int(row.earlier),
                                               row.score)  # fmt: skip
    return out


def anomalies(minutes: pd.DataFrame, bad: pd.Series, kind: str, value: str) -> tuple[dict, dict]:
    """MATCH_RECOGNIZE semantics over each subject's minute rows: runs of >= 3 bad rows after a good row.

    opened: the run's first three rows (G B{3}); resolved: the whole run when a good row follows (G B{3,} E).
    """
    opened, resolved = {}, {}
    minutes = minutes.assign(bad=bad.to_numpy())
    for subject, rows in minutes.sort_values("minute_ms").groupby("subject"):
        flags = rows["bad"].tolist()
        i = 1
        while i < len(flags):
            if flags[i] and not flags[i - 1]:
                j = i
                while j < len(flags) and flags[j]:
                    j += 1
                run = rows.iloc[i:j]
                if len(run) >= 3:
                    start = ts(int(run["minute_ms"].iloc[0]))
                    opened[(kind, subject, start)] = (ts(int(run["minute_ms"].iloc[2]) + MINUTE),
                                                      float(run[value].iloc[:3].max()))  # fmt: skip
                    if j < len(flags):
                        resolved[(kind, subject, start)] = (ts(int(run["minute_ms"].iloc[-1]) + MINUTE), len(run),
                                                            float(run[value].max()))  # fmt: skip
                i = j
            else:
                i += 1
    return opened, resolved


def expected_anomalies(on_time: pd.DataFrame, settings: Settings) -> tuple[dict, dict]:
    """cdn_alerts and cdn_incidents: (kind, subject, started_at) -> (detected/ended_at, [bad_minutes,] peak)."""
    nodes, regions = cdn_node_minutes(on_time), cdn_region_minutes(on_time)
    opened: dict = {}
    resolved: dict = {}
    if nodes.empty:
        return opened, resolved
    enough_n = nodes["requests"] >= settings.anomaly_min_requests
    enough_r = regions["requests"] >= settings.anomaly_min_requests
    for minutes, bad, kind, value in (
        (nodes, enough_n & (nodes["error_rate"] >= settings.anomaly_error_rate_threshold), "ERROR_RATE", "error_rate"),
        (nodes, enough_n & (nodes["ttfb_p95_ms"] >= settings.anomaly_latency_p95_threshold_ms), "LATENCY",
         "ttfb_p95_ms"),
        (regions, enough_r & (regions["error_rate"] >= settings.anomaly_regional_error_rate_threshold),
         "REGIONAL_OUTAGE", "error_rate"),
    ):  # fmt: skip
        o, r = anomalies(minutes, bad, kind, value)
        opened |= o
        resolved |= r
    return opened, resolved
