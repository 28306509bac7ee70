"""An alert as the Flink job writes it to the alerts topic (flink_jobs/sql/03_sink_kafka_alerts.sql)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

STATES = ("OPEN", "RESOLVED")
SEVERITIES = ("MINOR", "MAJOR", "CRITICAL")  # in rising order
NODE_KINDS = ("ERROR_RATE", "LATENCY")  # the subject is an edge node; REGIONAL_OUTAGE's subject is a region


@dataclass(frozen=True)
class Alert:
    anomaly_kind: str
    subject: str
    state: str
    started_at: datetime
    at: datetime  # detected_at (OPEN) or ended_at (RESOLVED)
    region: str
    peak_value: float
    severity: str
    # Set when sending an OPEN: anomalies of the same kind and subject that this channel was not told about since
    # its previous notification (held by the cool-down, or silenced by an acknowledgement).
    grouped: int = 0

    @property
    def anomaly_id(self) -> str:
        """`KIND:SUBJECT:STARTED`, the id the API uses (/v1/anomalies/{id})."""
        return f"{self.anomaly_kind}:{self.subject}:{self.started_at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"

    @property
    def idempotency_key(self) -> str:
        """One key per (anomaly, state): the same on every retry, re-read and restart."""
        return f"{self.anomaly_id}:{self.state}"

    @property
    def node(self) -> str | None:
        return self.subject if self.anomaly_kind in NODE_KINDS else None

    def payload(self) -> dict[str, Any]:
        """The JSON body a webhook receives (also the fields of the Slack and email texts)."""
        return {
            "idempotency_key": self.idempotency_key,
            "anomaly_id": self.anomaly_id,
            "state": self.state,
            "anomaly_kind": self.anomaly_kind,
            "subject": self.subject,
            "region": self.region,
            "severity": self.severity,
            "peak_value": self.peak_value,
            "started_at": _z(self.started_at),
            "at": _z(self.at),
            "grouped_since_last": self.grouped,
        }


def _z(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_alert(raw: bytes) -> Alert:
    """The job's JSON record (TIMESTAMP(3) as ISO 8601 without offset, in UTC). ValueError if unreadable."""
    try:
        r = json.loads(raw)
        alert = Alert(
            anomaly_kind=str(r["anomaly_kind"]), subject=str(r["subject"]), state=str(r["state"]),
            started_at=_utc(r["started_at"]), at=_utc(r["at_time"]), region=str(r["region"]),
            peak_value=float(r["peak_value"]), severity=str(r["severity"]),
        )  # fmt: skip
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an alert record: {type(exc).__name__}") from exc
    if alert.state not in STATES:
        raise ValueError(f"unknown state {alert.state!r}")
    return alert


def alert_record(alert: Alert) -> bytes:
    """The inverse of parse_alert: the record as the Flink job writes it (tests and tools produce with it)."""
    return json.dumps({
        "subject": alert.subject, "anomaly_kind": alert.anomaly_kind, "state": alert.state,
        "started_at": alert.started_at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds"),
        "at_time": alert.at.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="milliseconds"),
        "region": alert.region, "peak_value": alert.peak_value, "severity": alert.severity,
    }).encode()  # fmt: skip
