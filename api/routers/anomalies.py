"""CDN anomalies found by the Flink job (MATCH_RECOGNIZE), with acknowledgements kept by the API."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.acks import ACKNOWLEDGE_SQL, ack_params
from api.deps import AckKey, DbConn, ReadKey, WriterConn
from api.errors import responses
from api.params import End, Limit, Start, after_cursor, cursor_query, page

router = APIRouter(prefix="/anomalies", tags=["anomalies"])

ID_PATTERN = r"^[A-Z_]{1,32}:[A-Za-z0-9_.-]{1,64}:[0-9]{8}T[0-9]{6}Z$"
AnomalyId = Annotated[
    str, Path(pattern=ID_PATTERN, description="`KIND:SUBJECT:STARTED` as returned in `id`.",
              examples=["ERROR_RATE:edge-de-fra-1:20260101T000300Z"])
]  # fmt: skip


class State(str, Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class Severity(str, Enum):
    MINOR = "MINOR"
    MAJOR = "MAJOR"
    CRITICAL = "CRITICAL"


class Acknowledgement(BaseModel):
    acknowledged_at: datetime = Field(examples=["2026-01-01T00:07:30Z"])
    acknowledged_by: str = Field(description="Id of the API key that acknowledged.", examples=["3f9a1c0b7d2e"])
    note: str | None = Field(None, examples=["on it: failing over to edge-de-fra-2"])


class Anomaly(BaseModel):
    id: str = Field(examples=["ERROR_RATE:edge-de-fra-1:20260101T000300Z"])
    anomaly_kind: str = Field(description="ERROR_RATE, LATENCY (a node) or REGIONAL_OUTAGE (a region).",
                              examples=["ERROR_RATE"])  # fmt: skip
    subject: str = Field(description="The edge node, or the region for REGIONAL_OUTAGE.", examples=["edge-de-fra-1"])
    region: str = Field(examples=["DE"])
    state: State
    severity: str = Field(examples=["CRITICAL"])
    started_at: datetime = Field(description="Start of the first bad minute.", examples=["2026-01-01T00:03:00Z"])
    detected_at: datetime = Field(description="End of the third bad minute (when the alert went out).",
                                  examples=["2026-01-01T00:06:00Z"])  # fmt: skip
    ended_at: datetime | None = Field(None, description="Start of the first good minute; null while open.",
                                      examples=["2026-01-01T00:08:00Z"])  # fmt: skip
    peak_value: float = Field(description="Worst error rate (0-1) or p95 time to first byte (ms).", examples=[0.646])
    bad_minutes: int | None = Field(None, description="Known once resolved.", examples=[5])
    acknowledgement: Acknowledgement | None = None


class AnomalyPage(BaseModel):
    items: list[Anomaly] = Field(description="Newest start first.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class AcknowledgeRequest(BaseModel):
    note: str | None = Field(
        None, max_length=500, pattern=r"^[^\x00]*$", description="Free text for the team.", examples=["on it"]
    )


_SELECT = """
    select a.anomaly_kind, a.subject, a.region, a.state, a.severity, a.started_at, a.detected_at, a.ended_at,
           a.peak_value, a.bad_minutes, k.acknowledged_at, k.acknowledged_by, k.note
    from realtime.cdn_anomalies a
    left join api.anomaly_acks k using (anomaly_kind, subject, started_at)
"""


def anomaly_id(kind: str, subject: str, started_at: datetime) -> str:
    return f"{kind}:{subject}:{started_at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"


def parse_id(value: str) -> tuple[str, str, datetime]:
    """The key of an id of the documented shape; `404` for one whose time cannot exist (20261341T...): no
    anomaly has that id."""
    kind, subject, started = value.split(":")
    try:
        return kind, subject, datetime.strptime(started, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise HTTPException(404, f"anomaly_id: no anomaly '{value}'") from None


def _anomaly(r: tuple) -> Anomaly:
    ack = Acknowledgement(acknowledged_at=r[10], acknowledged_by=r[11], note=r[12]) if r[10] else None
    return Anomaly(
        id=anomaly_id(r[0], r[1], r[5]), anomaly_kind=r[0], subject=r[1], region=r[2], state=r[3], severity=r[4],
        started_at=r[5], detected_at=r[6], ended_at=r[7], peak_value=r[8], bad_minutes=r[9], acknowledgement=ack,
    )  # fmt: skip


NAME = r"^[A-Za-z0-9_.-]{1,64}$"
CURSOR_KINDS = (datetime, str, str)  # started_at, anomaly_kind, subject (descending)


@router.get("", response_model=AnomalyPage, summary="List CDN anomalies", responses=responses(401, 403, 422, 429))
async def list_anomalies(
    conn: DbConn,
    _key: ReadKey,
    node: Annotated[
        str | None, Query(pattern=NAME, description="Edge node (the subject).", examples=["edge-de-fra-1"])
    ] = None,  # fmt: skip
    region: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", examples=["DE"])] = None,
    severity: Annotated[Severity | None, Query()] = None,
    state: Annotated[State | None, Query()] = None,
    acknowledged: Annotated[bool | None, Query(description="Only (un)acknowledged anomalies.")] = None,
    start: Start = None,
    end: End = None,
    limit: Limit = 50,
    cursor: Annotated[str | None, cursor_query(CURSOR_KINDS)] = None,
) -> AnomalyPage:
    """Anomalies whose start lies in [start, end) (both optional; empty when `end` is not after `start`),
    newest first, filtered by node, region, severity, state and acknowledgement. Keyset pagination: follow
    `next_cursor`."""
    where, params = ["true"], {"limit": limit + 1}
    for column, value in (("subject", node), ("region", region), ("severity", severity), ("state", state)):
        if value is not None:
            where.append(f"a.{column} = %({column})s")
            params[column] = value.value if isinstance(value, Enum) else value
    if acknowledged is not None:
        where.append("k.acknowledged_at is " + ("not null" if acknowledged else "null"))
    if start:
        where.append("a.started_at >= %(start)s")
        params["start"] = start
    if end:
        where.append("a.started_at < %(end)s")
        params["end"] = end
    after, after_params = after_cursor(
        cursor, ["a.started_at", "a.anomaly_kind", "a.subject"], CURSOR_KINDS, descending=True
    )
    where.append(after)
    params |= after_params
    sql = f"{_SELECT} where {' and '.join(where)} order by a.started_at desc, a.anomaly_kind desc, a.subject desc" \
          " limit %(limit)s"  # fmt: skip
    cur = await conn.execute(sql, params)
    rows = await cur.fetchall()
    items, next_cursor = page([_anomaly(r) for r in rows], limit, lambda a: [a.started_at, a.anomaly_kind, a.subject])
    return AnomalyPage(items=items, next_cursor=next_cursor)


async def _get(conn: DbConn, value: str) -> Anomaly:
    kind, subject, started = parse_id(value)
    sql = f"{_SELECT} where a.anomaly_kind = %s and a.subject = %s and a.started_at = %s"
    cur = await conn.execute(sql, (kind, subject, started))
    row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"anomaly_id: no anomaly '{value}'")
    return _anomaly(row)


@router.get("/{anomaly_id}", response_model=Anomaly, summary="One CDN anomaly",
            responses=responses(401, 403, 404, 422, 429))  # fmt: skip
async def get_anomaly(conn: DbConn, _key: ReadKey, anomaly_id: AnomalyId) -> Anomaly:
    """One anomaly by id, with its acknowledgement if any."""
    return await _get(conn, anomaly_id)


@router.post(
    "/{anomaly_id}/acknowledge",
    response_model=Anomaly,
    summary="Acknowledge a CDN anomaly (scope: acknowledge)",
    responses=responses(400, 401, 403, 404, 422, 429),
)
async def acknowledge(
    conn: WriterConn,
    key: AckKey,
    anomaly_id: AnomalyId,
    body: Annotated[AcknowledgeRequest | None, Body()] = None,
) -> Anomaly:
    """Record that someone is on it. Needs a key with the `acknowledge` scope. Idempotent: acknowledging
    again keeps the first acknowledgement (time, key) and returns it."""
    kind, subject, started = parse_id(anomaly_id)
    # The statement the dashboard runs too (api/acks.py); this pooled connection already is the writer role.
    await conn.execute(ACKNOWLEDGE_SQL, ack_params(kind, subject, started, key.key_id, body.note if body else None))
    return await _get(conn, anomaly_id)
