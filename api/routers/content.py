"""Per-content performance: minute windows from the real-time table, hours and days summed in SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import READ_KEY_SECURITY, DbConn, ReadConn, ReadKey
from api.errors import responses
from api.fastjson import CACHE_RESPONSES, cacheable_json
from api.params import End, Start, time_range

router = APIRouter(prefix="/content", tags=["content"])
CONTENT_ID_PATTERN, CONTENT_ID_MAX = r"^[A-Za-z0-9_.-]+$", 64  # also read by api/hotpaths.py
ContentId = Annotated[
    str, Path(min_length=1, max_length=CONTENT_ID_MAX, pattern=CONTENT_ID_PATTERN, description="Content id.",
              examples=["mov-000123"])
]  # fmt: skip


class Granularity(str, Enum):
    minute = "minute"
    hour = "hour"
    day = "day"


# Longest range per granularity: keeps every answer small and every query short.
LONGEST = {
    Granularity.minute: timedelta(days=7),
    Granularity.hour: timedelta(days=31),
    Granularity.day: timedelta(days=92),
}
DEFAULT = {
    Granularity.minute: timedelta(hours=1),
    Granularity.hour: timedelta(days=1),
    Granularity.day: timedelta(days=7),
}


class ContentStatsPoint(BaseModel):
    """One bucket: a 1-minute tumbling window, or the sum of the minutes of one UTC hour or day."""

    window_start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    window_end: datetime = Field(examples=["2026-01-01T00:01:00Z"])
    events: int = Field(ge=0, description="Events of any type.", examples=[42])
    downloads_started: int = Field(ge=0, examples=[10])
    downloads_completed: int = Field(ge=0, examples=[8])
    downloads_failed: int = Field(ge=0, examples=[1])
    streams_started: int = Field(ge=0, examples=[12])
    streams_ended: int = Field(ge=0, examples=[9])
    purchases: int = Field(ge=0, examples=[2])
    bytes_sent: int = Field(ge=0, examples=[123456789])
    distinct_users: int | None = Field(
        None, description="Distinct users (minute granularity only: distinct counts do not add up).", examples=[30]
    )
    ttfb_p95_ms: float | None = Field(
        None, description="95th percentile time to first byte (minute granularity only).", examples=[180.5]
    )


class ContentStats(BaseModel):
    """Buckets of one content item whose minutes start in [start, end), oldest first; empty buckets omitted."""

    content_id: str = Field(examples=["mov-000123"])
    granularity: Granularity
    start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    end: datetime = Field(examples=["2026-01-01T01:00:00Z"])
    points: list[ContentStatsPoint]


_SUMS = (
    "sum(events)::bigint, sum(downloads_started)::bigint, sum(downloads_completed)::bigint,"
    " sum(downloads_failed)::bigint, sum(streams_started)::bigint, sum(streams_ended)::bigint,"
    " sum(purchases)::bigint, sum(bytes_sent)::bigint"
)
MINUTE_SQL = """
    select window_start, window_end, events, downloads_started, downloads_completed, downloads_failed,
           streams_started, streams_ended, purchases, bytes_sent, distinct_users, ttfb_p95_ms
    from realtime.content_minute_stats
    where content_id = %(id)s and window_start >= %(start)s and window_start < %(end)s
    order by window_start
"""
# date_trunc with an explicit 'UTC' zone: the buckets are UTC hours/days whatever the session's TimeZone.
BUCKET_SQL = f"""
    select date_trunc(%(unit)s, window_start, 'UTC') as bucket, date_trunc(%(unit)s, window_start, 'UTC')
           + %(step)s::interval, {_SUMS}, null::bigint, null::float8
    from realtime.content_minute_stats
    where content_id = %(id)s and window_start >= %(start)s and window_start < %(end)s
    group by bucket
    order by bucket
"""
EXISTS_SQL = """
    select exists (select 1 from catalog.content where content_id = %(id)s)
        or exists (select 1 from realtime.content_minute_stats where content_id = %(id)s)
"""
_FIELDS = list(ContentStatsPoint.model_fields)


async def content_exists(conn: DbConn, content_id: str) -> bool:
    cur = await conn.execute(EXISTS_SQL, {"id": content_id})
    return bool((await cur.fetchone())[0])


async def read_points(
    conn: DbConn, content_id: str, granularity: Granularity, start: datetime, end: datetime
) -> list[dict]:
    """The buckets as plain dicts (the hot path: no model per row); 404 when the item is unknown."""
    params = {"id": content_id, "start": start, "end": end}
    if granularity is Granularity.minute:
        cur = await conn.execute(MINUTE_SQL, params)
    else:
        params |= {"unit": granularity.value, "step": f"1 {granularity.value}"}
        cur = await conn.execute(BUCKET_SQL, params)
    rows = await cur.fetchall()
    if not rows and not await content_exists(conn, content_id):
        raise HTTPException(404, f"content_id: no content item '{content_id}'")
    return [dict(zip(_FIELDS, r, strict=True)) for r in rows]


async def read_stats(
    conn: DbConn, content_id: str, granularity: Granularity, start: datetime, end: datetime
) -> list[ContentStatsPoint]:
    """The buckets as models."""
    return [ContentStatsPoint(**p) for p in await read_points(conn, content_id, granularity, start, end)]


@router.get(
    "/{content_id}/stats",
    response_model=ContentStats,
    summary="Performance of one item over a time range",
    responses=responses(401, 403, 404, 422, 429) | CACHE_RESPONSES,
    openapi_extra=READ_KEY_SECURITY,
)
async def content_stats(
    request: Request,
    conn: ReadConn,
    content_id: ContentId,
    start: Start = None,
    end: End = None,
    granularity: Annotated[
        Granularity, Query(description="minute (range up to 7 days), hour (31 days) or day (92 days); UTC buckets.")
    ] = Granularity.minute,
) -> Response:
    """Downloads, streams, purchases, bytes and latency of one item, per minute, UTC hour or UTC day.

    Minutes come straight from the 1-minute tumbling windows of the Flink job; hours and days are their
    sums. Defaults: the last hour (minute), day (hour) or 7 days (day). `404` when the item is unknown.
    """
    return await stats_response(request, conn, content_id, granularity, start, end)


async def stats_response(
    request: Request,
    conn: DbConn,
    content_id: str,
    granularity: Granularity,
    start: datetime | None,
    end: datetime | None,
) -> Response:
    """The answer of `content_stats` for validated parameters (also served by api/hotpaths.py)."""
    start, end = time_range(start, end, default=DEFAULT[granularity], longest=LONGEST[granularity])
    points = await read_points(conn, content_id, granularity, start, end)
    return cacheable_json(
        request,
        {"content_id": content_id, "granularity": granularity.value, "start": start, "end": end, "points": points},
        data_until=end + timedelta(minutes=1),  # the last minute starting before `end` ends after it
    )


class ContentMinute(BaseModel):
    """Counts of one content item in one 1-minute tumbling window (UTC)."""

    window_start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    window_end: datetime = Field(examples=["2026-01-01T00:01:00Z"])
    event_count: int = Field(ge=0, description="Events of any type in the window.", examples=[42])


class ContentMinutes(BaseModel):
    content_id: str = Field(examples=["mov-000123"])
    start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    end: datetime = Field(examples=["2026-01-01T01:00:00Z"])
    minutes: list[ContentMinute]


@router.get(
    "/{content_id}/minutes",
    response_model=ContentMinutes,
    summary="Minute-by-minute event counts of one item",
    responses=responses(401, 403, 404, 422, 429),
)
async def content_minutes(
    conn: DbConn, _key: ReadKey, content_id: ContentId, start: Start = None, end: End = None
) -> ContentMinutes:
    """Event counts of the windows whose start lies in [start, end). Defaults to the last hour; at most 7 days.
    The full figures are at `/v1/content/{content_id}/stats`."""
    start, end = time_range(start, end, default=timedelta(hours=1), longest=timedelta(days=7))
    points = await read_stats(conn, content_id, Granularity.minute, start, end)
    return ContentMinutes(
        content_id=content_id,
        start=start,
        end=end,
        minutes=[
            ContentMinute(window_start=p.window_start, window_end=p.window_end, event_count=p.events) for p in points
        ],
    )
