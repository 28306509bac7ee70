"""The notifier's delivery log (`notifier.deliveries`): what each alert became on each channel, and why."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import DbConn, ReadKey
from api.errors import responses

router = APIRouter(prefix="/notifications", tags=["notifications"])
NAME = r"^[A-Za-z0-9_.-]{1,64}$"
ANOMALY_ID = r"^[A-Z_]{1,32}:[A-Za-z0-9_.-]{1,64}:[0-9]{8}T[0-9]{6}Z$"


class DeliveryStatus(str, Enum):
    pending = "pending"
    held = "held"
    delivered = "delivered"
    suppressed = "suppressed"
    failed = "failed"


class AlertState(str, Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class ChannelType(str, Enum):
    webhook = "webhook"
    slack = "slack"
    email = "email"


class Delivery(BaseModel):
    id: int = Field(ge=1, examples=[42])
    idempotency_key: str = Field(description="`<anomaly id>:<state>`: the same on every retry; receivers deduplicate "
                                 "on it.", examples=["ERROR_RATE:edge-de-fra-1:20260101T000300Z:OPEN"])  # fmt: skip
    anomaly_id: str = Field(
        description="See /v1/anomalies/{id}.", examples=["ERROR_RATE:edge-de-fra-1:20260101T000300Z"]
    )
    state: AlertState
    anomaly_kind: str = Field(examples=["ERROR_RATE"])
    subject: str = Field(examples=["edge-de-fra-1"])
    region: str = Field(examples=["DE"])
    severity: str = Field(examples=["CRITICAL"])
    route: str = Field(description="The routing rule that chose the channel.", examples=["critical-de"])
    channel: str = Field(description="The channel's name in the notifications file.", examples=["oncall-mail"])
    channel_type: ChannelType
    status: DeliveryStatus = Field(description="pending (due at next_attempt_at), held (cool-down), delivered, "
                                   "suppressed (see reason), failed (refused, or retries ran out).")  # fmt: skip
    reason: str | None = Field(None, examples=["cool-down"])
    attempts: int = Field(ge=0, examples=[1])
    created_at: datetime
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = Field(None, description="The last failure (never a secret or a webhook URL).",
                                   examples=["HTTP 503"])  # fmt: skip


class DeliveryPage(BaseModel):
    items: list[Delivery] = Field(description="Newest first.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


COLUMNS = [name for name in Delivery.model_fields]


@router.get(
    "/deliveries",
    response_model=DeliveryPage,
    summary="The notification delivery log",
    responses=responses(401, 403, 422, 429),
)
async def list_deliveries(
    conn: DbConn,
    _key: ReadKey,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this status.")] = None,
    state: Annotated[AlertState | None, Query(description="Only OPEN or RESOLVED notifications.")] = None,
    channel: Annotated[
        str | None, Query(pattern=NAME, description="Only this channel.", examples=["oncall-mail"])
    ] = None,
    anomaly_id: Annotated[
        str | None,
        Query(
            pattern=ANOMALY_ID,
            description="Only this anomaly's notifications.",
            examples=["ERROR_RATE:edge-de-fra-1:20260101T000300Z"],
        ),
    ] = None,  # fmt: skip
    limit: Annotated[int, Query(ge=1, le=500, description="Page size (1-500).")] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page; omit for the first."),
    ] = None,  # fmt: skip
) -> DeliveryPage:
    """Every notification the notifier recorded, newest first: its channel, status, attempts and last error.
    Filter by status (`failed` and `pending` show what has not arrived), state, channel or anomaly."""
    where, params = ["true"], {"limit": limit + 1}
    for column, value in (("status", status), ("state", state), ("channel", channel), ("anomaly_id", anomaly_id)):
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = value.value if isinstance(value, Enum) else value
    if cursor is not None:
        where.append("id < %(cursor)s")
        params["cursor"] = int(cursor)
    cur = await conn.execute(
        f"select {', '.join(COLUMNS)} from notifier.deliveries where {' and '.join(where)} order by id desc"
        " limit %(limit)s",
        params,
    )
    rows = [Delivery(**dict(zip(COLUMNS, row, strict=True))) for row in await cur.fetchall()]
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(items=rows, next_cursor=str(rows[-1].id) if more else None)
