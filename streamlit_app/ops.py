"""Operational state outside PostgreSQL: Flink REST, Kafka consumer lag, the BI reports folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import streamlit as st

from streampulse.settings import Settings, get_settings

TIMEOUT_S = 3.0


def reports_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).reports_dir


@st.cache_data(ttl=5, show_spinner=False)
def flink_jobs(flink_url: str) -> pd.DataFrame | str:
    """Jobs on the Flink cluster (newest first), or an error text when the REST API does not answer."""
    try:
        response = httpx.get(f"{flink_url}/jobs/overview", timeout=TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return f"Flink REST at {flink_url} did not answer ({exc.__class__.__name__}): is the stack up?"
    jobs = response.json().get("jobs", [])
    df = pd.DataFrame(
        [
            {
                "job_id": j["jid"],
                "name": j["name"],
                "state": j["state"],
                "started (UTC)": pd.to_datetime(j["start-time"], unit="ms", utc=True),
                "duration_s": j["duration"] / 1000,
                "tasks": j.get("tasks", {}).get("total"),
            }
            for j in jobs
        ],
        columns=["job_id", "name", "state", "started (UTC)", "duration_s", "tasks"],
    )
    # Running jobs first, then the newest.
    df["_running"] = df["state"] == "RUNNING"
    df = df.sort_values(["_running", "started (UTC)"], ascending=False, ignore_index=True)
    return df.drop(columns="_running")


@dataclass
class Checkpoints:
    completed: int
    failed: int
    in_progress: int
    latest_completed_ms: int | None  # when the newest completed checkpoint was acknowledged (epoch ms)
    latest_size_bytes: int | None
    latest_duration_ms: int | None

    def age_s(self, now_ms: float | None = None) -> float | None:
        if self.latest_completed_ms is None:
            return None
        return ((now_ms if now_ms is not None else time.time() * 1000) - self.latest_completed_ms) / 1000


@st.cache_data(ttl=5, show_spinner=False)
def flink_checkpoints(flink_url: str, job_id: str) -> Checkpoints | str:
    try:
        response = httpx.get(f"{flink_url}/jobs/{job_id}/checkpoints", timeout=TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return f"checkpoint statistics unavailable ({exc.__class__.__name__})"
    body = response.json()
    counts = body.get("counts", {})
    latest = (body.get("latest") or {}).get("completed") or {}
    return Checkpoints(
        completed=counts.get("completed", 0),
        failed=counts.get("failed", 0),
        in_progress=counts.get("in_progress", 0),
        latest_completed_ms=latest.get("latest_ack_timestamp"),
        latest_size_bytes=latest.get("state_size", latest.get("checkpointed_size")),
        latest_duration_ms=latest.get("end_to_end_duration"),
    )


@st.cache_data(ttl=5, show_spinner=False)
def kafka_lag(bootstrap_servers: str, topic: str) -> pd.DataFrame | str:
    """Per consumer group with offsets committed on `topic`, per partition: log end offset, committed, lag.

    Flink's Kafka source commits its offsets (group = job name) when a checkpoint completes, so this is
    the lag as of the newest checkpoint.
    """
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, OffsetSpec

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    try:
        metadata = admin.list_topics(topic, timeout=TIMEOUT_S)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            return f"topic {topic!r} not found on {bootstrap_servers}"
        partitions = sorted(metadata.topics[topic].partitions)
        ends = admin.list_offsets(
            {TopicPartition(topic, p): OffsetSpec.latest() for p in partitions}, request_timeout=TIMEOUT_S
        )
        end_offsets = {tp.partition: f.result().offset for tp, f in ends.items()}
        groups = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result().valid
        rows = []
        for group in sorted(g.group_id for g in groups):
            request = [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in partitions])]
            committed = admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_S)[group].result()
            for tp in committed.topic_partitions:
                if tp.offset >= 0:  # negative: nothing committed for this partition
                    end = end_offsets[tp.partition]
                    rows.append(
                        {"group": group, "partition": tp.partition, "end_offset": end, "committed": tp.offset,
                         "lag": end - tp.offset}
                    )  # fmt: skip
        return pd.DataFrame(rows, columns=["group", "partition", "end_offset", "committed", "lag"])
    except KafkaException as exc:
        return f"Kafka at {bootstrap_servers} did not answer: {exc}"


@dataclass
class Report:
    day: str
    folder: Path
    html: Path | None
    csvs: list[Path]


def list_reports(folder: Path) -> list[Report]:
    """Report folders `YYYY-MM-DD/` under `folder`, newest day first."""
    if not folder.is_dir():
        return []
    out = []
    for day_dir in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        html = day_dir / "report.html"
        out.append(Report(day_dir.name, day_dir, html if html.is_file() else None, sorted(day_dir.glob("*.csv"))))
    return out
