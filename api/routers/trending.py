"""Trending items: the Flink job's Top-N per 5-minute window sliding by 1 minute, per region and globally."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import READ_KEY_SECURITY, ReadConn
from api.errors import responses
from api.fastjson import CACHE_RESPONSES, cacheable_json
from api.params import Instant

router = APIRouter(prefix="/trending", tags=["trending"])
REGION_PATTERN = r"^(GLOBAL|[A-Z]{2})$"  # also read by api/hotpaths.py


class TrendingItem(BaseModel):
    rank: int = Field(ge=1, description="1 = the highest score.", examples=[1])
    content_id: str = Field(examples=["mov-000123"])
    title: str | None = Field(None, description="From the catalog; null if the item is not in it.",
                              examples=["The Quiet Harbor"])  # fmt: skip
    score: float = Field(description="Trend score: recent activity against the trailing baseline.", examples=[3.25])
    events: int = Field(ge=0, description="Events in the whole 5-minute window.", examples=[120])
    recent_events: int = Field(ge=0, description="Events in the window's last 2 minutes.", examples=[80])
    earlier_events: int = Field(ge=0, description="Events in its first 3 minutes.", examples=[40])


class Trending(BaseModel):
    """The Top-N of one scope in one sliding window."""

    scope: str = Field(description="A region code, or GLOBAL.", examples=["GLOBAL"])
    window_start: datetime = Field(examples=["2026-01-01T00:10:00Z"])
    window_end: datetime = Field(examples=["2026-01-01T00:15:00Z"])
    items: list[TrendingItem]


# The newest window of the scope ending at or before `at`: one backward step on the primary key
# (trend_scope, window_end, rank_no), then the first `limit` ranks of that window.
TRENDING_SQL = """
    with w as (
        select window_end from realtime.trending
        where trend_scope = %(scope)s and window_end <= %(at)s
        order by window_end desc limit 1
    )
    select t.window_start, t.window_end, t.rank_no, t.content_id, c.title, t.score, t.events, t.recent_events,
           t.earlier_events
    from w join realtime.trending t on t.trend_scope = %(scope)s and t.window_end = w.window_end
    left join catalog.content c on c.content_id = t.content_id
    where t.rank_no <= %(limit)s
    order by t.rank_no
"""
_ITEM_FIELDS = ("rank", "content_id", "title", "score", "events", "recent_events", "earlier_events")
FAR_FUTURE = datetime(9000, 1, 1).astimezone()


@router.get(
    "",
    response_model=Trending,
    summary="Top trending items",
    responses=responses(401, 403, 404, 422, 429) | CACHE_RESPONSES,
    openapi_extra=READ_KEY_SECURITY,
)
async def trending(
    request: Request,
    conn: ReadConn,
    region: Annotated[
        str,
        Query(
            pattern=REGION_PATTERN,
            description="A region code (e.g. `DE`) or `GLOBAL`.",
            examples=["GLOBAL", "DE"],
        ),
    ] = "GLOBAL",  # fmt: skip
    at: Annotated[
        Instant | None,
        Query(
            description="The newest window ending at or before this instant (RFC 3339 with offset); default: the "
            "newest window.",
            examples=["2026-01-01T00:15:00Z"],
        ),
    ] = None,  # fmt: skip
    limit: Annotated[int, Query(ge=1, le=50, description="How many ranks (the job keeps the top 10).")] = 10,
) -> Response:
    """The highest-scoring items of a region (or of all regions) in a 5-minute window sliding by 1 minute.

    `404` when the scope has no window ending at or before `at`.
    """
    return await trending_response(request, conn, region, at, limit)


async def trending_response(request: Request, conn: ReadConn, region: str, at: datetime | None, limit: int) -> Response:
    """The answer of `trending` for validated parameters (also served by api/hotpaths.py)."""
    cur = await conn.execute(TRENDING_SQL, {"scope": region, "at": at or FAR_FUTURE, "limit": limit})
    rows = await cur.fetchall()
    if not rows:
        raise HTTPException(
            404, f"region: no trending window for '{region}'" + (f" ending by {at.isoformat()}" if at else "")
        )
    return cacheable_json(
        request,
        {
            "scope": region,
            "window_start": rows[0][0],
            "window_end": rows[0][1],
            "items": [dict(zip(_ITEM_FIELDS, r[2:], strict=True)) for r in rows],
        },
        data_until=at,  # None (the newest window) is never settled
    )
