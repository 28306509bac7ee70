"""Operational state outside PostgreSQL: Flink REST, Kafka consumer lag, the BI reports folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import streamlit as st

from flink_jobs.rest import CheckpointStats, FlinkRest
from streampulse.kafka import consumer_lag
from streampulse.settings import Settings, get_settings

TIMEOUT_S = 3.0


def reports_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).reports_dir


@st.cache_data(ttl=5, show_spinner=False)
def flink_jobs(flink_url: str) -> pd.DataFrame | str:
    """Jobs on the Flink cluster (newest first), or an error text when the REST API does not answer."""
    try:
        jobs = FlinkRest(flink_url, timeout_s=TIMEOUT_S).jobs()
    except httpx.HTTPError as exc:
        return f"Flink REST at {flink_url} did not answer ({exc.__class__.__name__}): is the stack up?"
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


@st.cache_data(ttl=5, show_spinner=False)
def flink_checkpoints(flink_url: str, job_id: str) -> CheckpointStats | str:
    try:
        return FlinkRest(flink_url, timeout_s=TIMEOUT_S).checkpoint_stats(job_id)
    except httpx.HTTPError as exc:
        return f"checkpoint statistics unavailable ({exc.__class__.__name__})"


@st.cache_data(ttl=5, show_spinner=False)
def kafka_lag(bootstrap_servers: str, topic: str) -> pd.DataFrame | str:
    """Per consumer group with offsets committed on `topic`, per partition: log end offset, committed, lag
    (streampulse.kafka.consumer_lag, the function the Dagster check uses)."""
    from confluent_kafka import KafkaException

    try:
        lag = consumer_lag(bootstrap_servers, topic, timeout_s=TIMEOUT_S)
    except LookupError as exc:
        return str(exc)
    except KafkaException as exc:
        return f"Kafka at {bootstrap_servers} did not answer: {exc}"
    rows = [
        {"group": r.group, "partition": r.partition, "end_offset": r.end_offset, "committed": r.committed, "lag": r.lag}
        for r in lag
        if r.committed is not None  # nothing committed for this partition
    ]
    return pd.DataFrame(rows, columns=["group", "partition", "end_offset", "committed", "lag"])


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
