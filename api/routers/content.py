"""Per-content performance, minute by minute, from the real-time tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import DbConn, ReadKey

router = APIRouter(prefix="/content", tags=["content"])
MAX_RANGE = timedelta(days=7)


class ContentMinute(BaseModel):
    """Counts of one content item in one 1-minute tumbling window (UTC)."""

    window_start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    window_end: datetime = Field(examples=["2026-01-01T00:01:00Z"])
    event_count: int = Field(ge=0, description="Events of any type in the window.", examples=[42])


class ContentMinutes(BaseModel):
    content_id: str
    start: datetime
    end: datetime
    minutes: list[ContentMinute]


@router.get("/{content_id}/minutes", response_model=ContentMinutes, summary="Minute-by-minute counts of one item")
def content_minutes(
    conn: DbConn,
    _key: ReadKey,
    content_id: Annotated[str, Path(min_length=1, max_length=64, examples=["mov-000123"])],
    start: Annotated[AwareDatetime | None, Query(description="Inclusive window start, ISO 8601 with offset.")] = None,
    end: Annotated[
        AwareDatetime | None, Query(description="Exclusive window start bound, ISO 8601 with offset.")
    ] = None,
) -> ContentMinutes:
    """Windows whose start lies in [start, end). Defaults to the last hour; at most 7 days."""
    end = end or datetime.now(timezone.utc)
    start = start or end - timedelta(hours=1)
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end: must be after start")
    if end - start > MAX_RANGE:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end: the range may span at most 7 days")
    rows = conn.execute(
        """
        select window_start, window_end, events
        from realtime.content_minute_stats
        where content_id = %s and window_start >= %s and window_start < %s
        order by window_start
        """,
        (content_id, start, end),
    ).fetchall()
    return ContentMinutes(
        content_id=content_id,
        start=start.astimezone(timezone.utc),
        end=end.astimezone(timezone.utc),
        minutes=[ContentMinute(window_start=r[0], window_end=r[1], event_count=r[2]) for r in rows],
    )
