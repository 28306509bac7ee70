"""The independent computation: every real-time table, recomputed in plain Python (pandas, numpy)
from the events as they are in Kafka. Written from the documented semantics, not from the SQL."""

from __future__ import annotations

import io
import json
import math
import time
from datetime import datetime, timezone

import fastavro
import numpy as np
import pandas as pd
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient

from streampulse.settings import Settings

MINUTE = 60_000
REQUESTS = ("DOWNLOAD_COMPLETED", "DOWNLOAD_FAILED", "STREAM_STARTED")


def end_offsets(settings: Settings, topic: str, partitions: int = 3) -> list[int]:
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "expected-offsets"})
    try:
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)]
    finally:
        consumer.close()


def read_events(settings: Settings, topic: str, partitions: int = 3) -> pd.DataFrame:
    """Every record of the topic, decoded with its writer schema from the registry; with partition/offset."""
    registry = SchemaRegistryClient({"url": settings.registry_url})
    schemas: dict[int, dict] = {}
    ends = end_offsets(settings, topic, partitions)
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"expected-{topic}",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    rows = []
    deadline = time.monotonic() + 120
    try:
        while len(rows) < sum(ends) and time.monotonic() < deadline:
            for msg in consumer.consume(20_000, timeout=1):
                if msg.error():
                    continue
                value = msg.value()
                schema_id = int.from_bytes(value[1:5], "big")
                if schema_id not in schemas:
                    schemas[schema_id] = fastavro.parse_schema(json.loads(registry.get_schema(schema_id).schema_str))
                row = fastavro.schemaless_reader(io.BytesIO(value[5:]), schemas[schema_id], None)
                row["partition"], row["offset"] = msg.partition(), msg.offset()
                rows.append(row)
    finally:
        consumer.close()
    df = pd.DataFrame(rows)
    df["event_ms"] = df["event_time"].map(lambda t: int(t.timestamp() * 1000))
    df["minute_ms"] = df["event_ms"] // MINUTE * MINUTE
    return df


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _percentile(values: pd.Series, q: float) -> float | None:
    v = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(v, q * 100, method="linear")) if len(v) else None


def _mean(values: pd.Series) -> float | None:
    v = values.dropna()
    return float(v.mean()) if len(v) else None


def content_minute_stats(on_time: pd.DataFrame) -> dict:
    out = {}
    for (content, minute), g in on_time.groupby(["content_id", "minute_ms"]):
        t = g["event_type"]
        ttfb = g["ttfb_ms"].where(g["ttfb_ms"] != 0)
        out[(content, ts(minute))] = (
            len(g),
            int((t == "DOWNLOAD_STARTED").sum()),
            int((t == "DOWNLOAD_COMPLETED").sum()),
            int((t == "DOWNLOAD_FAILED").sum()),
            int((t == "STREAM_STARTED").sum()),
            int((t == "STREAM_ENDED").sum()),
            int((t == "PURCHASE").sum()),
            int(g["bytes_sent"].sum()),
            int(g["user_id"].nunique()),
            _mean(ttfb),
            _percentile(ttfb, 0.95),
        )
    return out


def content_region_minute_stats(on_time: pd.DataFrame) -> dict:
    out = {}
    for (content, region, minute), g in on_time.groupby(["content_id", "region", "minute_ms"]):
        t = g["event_type"]
        currencies = g["currency"].dropna()
        out[(content, region, ts(minute))] = (
            len(g),
            int((t == "DOWNLOAD_STARTED").sum()),
            int((t == "DOWNLOAD_COMPLETED").sum()),
            int((t == "DOWNLOAD_FAILED").sum()),
            int((t == "STREAM_STARTED").sum()),
            int((t == "PURCHASE").sum()),
            int(g["price_minor"].sum()),
            currencies.max() if len(currencies) else None,
            int(g["user_id"].nunique()),
        )
    return out


def cdn_node_minutes(on_time: pd.DataFrame) -> pd.DataFrame:
    req = on_time[on_time["event_type"].isin(REQUESTS)]
    rows = []
    for (node, minute), g in req.groupby(["cdn_node", "minute_ms"]):
        errors = int(g["error_code"].notna().sum())
        rows.append({
            "subject": node, "minute_ms": minute, "region": g["region"].max(), "requests": len(g), "errors": errors,
            "error_rate": errors / len(g), "ttfb_p50_ms": _percentile(g["ttfb_ms"], 0.5),
            "ttfb_p95_ms": _percentile(g["ttfb_ms"], 0.95),
            "throughput_avg_kbps": _mean(g["throughput_kbps"].where(g["throughput_kbps"] != 0)),
            "bytes_sent": int(g["bytes_sent"].sum()),
        })  # fmt: skip
    return pd.DataFrame(rows)


def cdn_region_minutes(on_time: pd.DataFrame) -> pd.DataFrame:
    req = on_time[on_time["event_type"].isin(REQUESTS)]
    rows = []
    for (region, minute), g in req.groupby(["region", "minute_ms"]):
        rows.append({"subject": region, "region": region, "minute_ms": minute, "requests": len(g),
                     "error_rate": g["error_code"].notna().sum() / len(g)})  # fmt: skip
    return pd.DataFrame(rows)


def trending(on_time: pd.DataFrame, last_window_end_ms: int, top_n: int = 10) -> dict:
    """Top N per scope (region, GLOBAL) for every 5-minute window sliding by a minute."""
    out = {}
    first = int(on_time["minute_ms"].min())
    for end in range(first + MINUTE, last_window_end_ms + 1, MINUTE):
        window = on_time[(on_time["event_ms"] >= end - 5 * MINUTE) & (on_time["event_ms"] < end)]
        if window.empty:
            continue
        recent = window["event_ms"] >= end - 2 * MINUTE
        for scope, part in [*window.groupby("region"), ("GLOBAL", window)]:
            stats = part.groupby("content_id").agg(events=("event_ms", "size"))
            stats["recent"] = part[recent[part.index]].groupby("content_id").size()
            stats["recent"] = stats["recent"].fillna(0).astype(int)
            stats["earlier"] = stats["events"] - stats["recent"]
            stats = stats[stats["events"] >= 5]
            if stats.empty:
                continue
            stats["score"] = [
                math.log(1 + e) * (r / 2 + 1) / (x / 3 + 1)
                for e, r, x in zip(stats["events"], stats["recent"], stats["earlier"], strict=True)
            ]
            ranked = stats.reset_index().sort_values(["score", "content_id"], ascending=[False, True]).head(top_n)
            for rank, row in enumerate(ranked.itertuples(), start=1):
                out[(scope, ts(end), rank)] = (row.content_id, row.events, row.recent, row.earlier, row.score)
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
