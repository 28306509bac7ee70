"""Bulk exports of a time range of any real-time table or dbt mart, as CSV, NDJSON or Parquet (streamed).

An export holds one connection of the export pool and one of its key's export slots (a transaction-level
PostgreSQL advisory lock, so the per-key limit holds across API workers and a slot can never leak: it ends with
the export's transaction, whether the export finished, failed or its client went away).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from api.deps import StreamKey
from api.errors import responses
from api.exports import MEDIA_TYPES, Format, stream_query
from api.params import EARLIEST, LATEST, End, Start, time_range
from api.routers.marts import MARTS, Mart

log = logging.getLogger(__name__)
router = APIRouter(prefix="/exports", tags=["exports"])


class RealtimeTable(str, Enum):
    content_minute_stats = "content_minute_stats"
    content_region_minute_stats = "content_region_minute_stats"
    trending = "trending"
    cdn_node_minute_stats = "cdn_node_minute_stats"
    cdn_alerts = "cdn_alerts"
    cdn_incidents = "cdn_incidents"
    late_events_minute = "late_events_minute"
    late_events = "late_events"
    dead_letters = "dead_letters"


# The time column each table is cut by, then its primary key (the export's order; the time column leads, so
# the scan follows the time index and rows flow at once, without a sort of the whole range first).
REALTIME: dict[RealtimeTable, tuple[str, ...]] = {
    RealtimeTable.content_minute_stats: ("window_start", "content_id"),
    RealtimeTable.content_region_minute_stats: ("window_start", "content_id", "region"),
    RealtimeTable.trending: ("window_end", "trend_scope", "rank_no"),
    RealtimeTable.cdn_node_minute_stats: ("window_start", "cdn_node"),
    RealtimeTable.cdn_alerts: ("started_at", "anomaly_kind", "subject"),
    RealtimeTable.cdn_incidents: ("started_at", "anomaly_kind", "subject"),
    RealtimeTable.late_events_minute: ("event_minute",),
    RealtimeTable.late_events: ("event_time", "kafka_topic", "kafka_partition", "kafka_offset"),
    RealtimeTable.dead_letters: ("recorded_at", "kafka_topic", "kafka_partition", "kafka_offset"),
}
RETRY_AFTER_S = 5
# Any free slot of the key, tried in order; LIMIT 1 stops at the first lock taken.
SLOT_SQL = """
    select s from generate_series(0, %(slots)s - 1) s
    where pg_try_advisory_xact_lock(hashtext('streampulse-export'), hashtext(%(key)s || ':' || s))
    limit 1
"""
ExportFormat = Annotated[
    Format, Query(description="`csv` (header row; RFC 3339 UTC instants, base64 bytes), `ndjson` (one JSON "
                  "object per line) or `parquet` (typed columns, zstd).")
]  # fmt: skip
DESCRIPTION = (
    "Every row whose `{column}` lies in [start, end) (default: everything up to now; no maximum length), in the "
    "order of ({order}), streamed as it is read. At most `api_max_exports_per_key` exports per key at once: "
    "`429` with `Retry-After` beyond. Needs the `read` scope."
)
_RESPONSES: dict[int | str, dict] = {
    200: {
        "description": "The rows, streamed (`Content-Disposition: attachment`).",
        "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
    },
    **responses(401, 403, 422, 429, 503),
}


def _day_bounds(start: datetime, end: datetime) -> tuple[date, date]:
    """The UTC days whose midnight lies in [start, end), as [first, after last)."""

    def first_midnight_at_or_after(t: datetime) -> date:
        return t.date() if t.time() == datetime.min.time() else t.date() + timedelta(days=1)

    return first_midnight_at_or_after(start), first_midnight_at_or_after(end)


async def export(
    request: Request, key_id: str, schema: str, table: str, order: tuple[str, ...], lo: Any, hi: Any, fmt: Format
) -> StreamingResponse:  # fmt: skip
    """Start the export (slot, query) before answering, so that 429/503 come as problems; then stream it."""
    settings = request.app.state.settings
    sql = (
        f"select * from {schema}.{table} where {order[0]} >= %(lo)s and {order[0]} < %(hi)s order by {', '.join(order)}"
    )

    async def body() -> AsyncIterator[bytes]:
        try:
            async with request.app.state.exporter.connection(timeout=1) as conn, conn.transaction():
                cur = await conn.execute(SLOT_SQL, {"slots": settings.api_max_exports_per_key, "key": key_id})
                if await cur.fetchone() is None:
                    raise HTTPException(
                        429, f"This API key already runs {settings.api_max_exports_per_key} exports; retry when one "
                        "has finished.", headers={"Retry-After": str(RETRY_AFTER_S)},
                    )  # fmt: skip
                async for chunk in stream_query(conn, sql, {"lo": lo, "hi": hi}, fmt):
                    yield chunk
        except PoolTimeout:
            raise HTTPException(503, "Too many exports in progress on this server; try again shortly.",
                                headers={"Retry-After": str(RETRY_AFTER_S)}) from None  # fmt: skip
        except (pg_errors.UndefinedTable, pg_errors.UndefinedColumn, pg_errors.InsufficientPrivilege):
            raise HTTPException(503, f"{schema}.{table} is not built or not readable yet in this database",
                                headers={"Retry-After": "60"}) from None  # fmt: skip

    stream = body()
    first = await anext(stream)  # raises the problems above before any byte is sent

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in stream:
            yield chunk

    ext = "csv" if fmt is Format.csv else fmt.value
    filename = f"{table}_{_stamp(lo)}_{_stamp(hi)}.{ext}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return StreamingResponse(rest(), media_type=MEDIA_TYPES[fmt], headers=headers)


def _stamp(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return f"{value.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"
    return f"{value:%Y%m%d}"


@router.get(
    "/realtime/{table}",
    summary="Export a time range of a real-time table",
    response_class=StreamingResponse,
    responses=_RESPONSES,
    description=DESCRIPTION.format(column="time column", order="time column, primary key")
    + " Time columns: "
    + ", ".join(f"`{t.value}`: `{cols[0]}`" for t, cols in REALTIME.items())
    + ".",
)
async def export_realtime(
    request: Request,
    key: StreamKey,
    table: Annotated[RealtimeTable, Path(description="A table of the schema `realtime`.")],
    start: Start = None,
    end: End = None,
    format: ExportFormat = Format.csv,
) -> StreamingResponse:
    start, end = time_range(start or EARLIEST, end, default=timedelta(0), longest=LATEST - EARLIEST)
    return await export(request, key.key_id, "realtime", table.value, REALTIME[table], start, end, format)


@router.get(
    "/marts/{mart}",
    summary="Export a time range of a dbt mart",
    response_class=StreamingResponse,
    responses=_RESPONSES,
    description=DESCRIPTION.format(column="day (its UTC midnight) or hour_start", order="its primary key")
    + " `503` while dbt has not built the mart.",
)
async def export_mart(
    request: Request,
    key: StreamKey,
    mart: Annotated[Mart, Path(description="A mart, named as in `/v1/marts/{mart}`.")],
    start: Start = None,
    end: End = None,
    format: ExportFormat = Format.csv,
) -> StreamingResponse:
    table, time_column, order, _ = MARTS[mart]
    start, end = time_range(start or EARLIEST, end, default=timedelta(0), longest=LATEST - EARLIEST)
    lo, hi = _day_bounds(start, end) if time_column == "day" else (start, end)
    return await export(request, key.key_id, "marts", table, order, lo, hi, format)
