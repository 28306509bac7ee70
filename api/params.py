"""Query parameters shared by the routers: UTC time ranges, page sizes and opaque keyset cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, TypeVar

from fastapi import Query
from pydantic import AwareDatetime

from api.errors import invalid

T = TypeVar("T")

Start = Annotated[
    AwareDatetime | None,
    Query(description="Range start (inclusive), ISO 8601 with offset, e.g. `2026-01-01T00:00:00Z`.",
          examples=["2026-01-01T00:00:00Z"]),
]  # fmt: skip
End = Annotated[
    AwareDatetime | None,
    Query(description="Range end (exclusive), ISO 8601 with offset. Defaults to now.",
          examples=["2026-01-01T01:00:00Z"]),
]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1-500).")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="`next_cursor` of the previous page; omit for the first page."),
]

# Postgres timestamptz spans 4713 BC .. 294276 AD; Python datetimes 1..9999. Keep requests well inside both.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def time_range(
    start: datetime | None, end: datetime | None, *, default: timedelta, longest: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) in UTC: `end` defaults to now, `start` to `end - default`; at most `longest` long."""
    end = (end or datetime.now(timezone.utc)).astimezone(timezone.utc)
    start = start.astimezone(timezone.utc) if start else None
    for name, value in (("start", start), ("end", end)):
        if value is not None and not EARLIEST <= value <= LATEST:
            raise invalid(name, "must lie between 1970 and 9000")
    start = start or end - default
    if end <= start:
        raise invalid("end", "must be after start")
    if end - start > longest:
        raise invalid("end", f"the range may span at most {_human(longest)}")
    return start, end


def _human(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        return f"{span.days} days"
    return f"{int(span.total_seconds() // 3600)} hours"


def day_range(
    start_day: date | None, end_day: date | None, *, default_days: int, longest_days: int
) -> tuple[date, date]:
    """[start_day, end_day] inclusive; `end_day` defaults to today (UTC)."""
    for name, value in (("start_day", start_day), ("end_day", end_day)):
        if value is not None and not EARLIEST.date() <= value <= LATEST.date():
            raise invalid(name, "must lie between 1970 and 9000")
    end_day = end_day or datetime.now(timezone.utc).date()
    start_day = start_day or end_day - timedelta(days=default_days - 1)
    if end_day < start_day:
        raise invalid("end_day", "must not be before start_day")
    if (end_day - start_day).days + 1 > longest_days:
        raise invalid("end_day", f"the range may span at most {longest_days} days")
    return start_day, end_day


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for the last row of a page (its sort key)."""
    plain = [v.isoformat() if isinstance(v, datetime | date) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """The sort key a cursor holds, typed by `kinds` (datetime, date, str, int); 422 naming `cursor` if bad."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        out: list[Any] = []
        for kind, value in zip(kinds, raw, strict=True):
            if kind is datetime:
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise ValueError
                out.append(parsed)
            elif kind is date:
                out.append(date.fromisoformat(value))
            elif kind is int:
                out.append(int(value))
            else:
                if not isinstance(value, str):
                    raise ValueError
                out.append(value)
        return out
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise invalid("cursor", "is not a cursor this API returned") from exc


def after_cursor(
    cursor: str | None, columns: list[str], kinds: tuple[type, ...], *, descending: bool = False
) -> tuple[str, dict[str, Any]]:
    """The keyset predicate continuing after the cursor's row, and its parameters (`true` without a cursor).

    `columns` is the sort key in ORDER BY order, all ascending or all `descending`.
    """
    if not cursor:
        return "true", {}
    values = decode_cursor(cursor, kinds)
    names = [f"cursor_{i}" for i in range(len(columns))]
    row = ", ".join(f"%({n})s" for n in names)
    return f"({', '.join(columns)}) {'<' if descending else '>'} ({row})", dict(zip(names, values, strict=True))


def page(rows: list[T], limit: int, sort_key: Callable[[T], list[Any]]) -> tuple[list[T], str | None]:
    """The first `limit` rows (the query asked for one more) and the cursor for the next page, if any."""
    items = rows[:limit]
    return items, encode_cursor(sort_key(items[-1])) if len(rows) > limit else None
