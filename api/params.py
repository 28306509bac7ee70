"""Query parameters shared by the routers: UTC instants and days, time ranges, page sizes and keyset cursors.

The OpenAPI document is the contract (schemathesis checks it): every value the schema allows is accepted,
every value it forbids is a 422. So instants are parsed exactly as JSON Schema's `date-time` format reads
them (RFC 3339, not pydantic's lax parsing that takes `0.5` for a Unix time), and rules that a schema cannot
state across two parameters are not errors: a range ending before it starts is empty, a range longer than
an endpoint's maximum is answered up to `start + maximum` (the response's `end` says where it stopped), and
instants outside 1970..9000 (where no data can be) are clamped to it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, TypeVar

from fastapi import Query
from pydantic import PlainValidator, WithJsonSchema

T = TypeVar("T")
UTC = timezone.utc

# Postgres timestamptz spans 4713 BC .. 294276 AD; Python datetimes 1..9999. Keep every instant inside both.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_SPAN_MICROS = (LATEST - EARLIEST) // timedelta(microseconds=1)

# RFC 3339 (what JSON Schema's `date-time` and `date` formats mean), ASCII digits only.
_DATE = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_DATE_TIME_RE = re.compile(
    _DATE + r"[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
_DATE_RE = re.compile(_DATE)
_COMMON_RE = re.compile(  # uppercase T and Z, at most microseconds, no leap second: what fromisoformat reads alike
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
_DATE_TIME_HINT = "must be an RFC 3339 date-time with an offset, e.g. 2026-01-01T00:00:00Z"


def _days_from_civil(year: int, month: int, day: int) -> int | None:
    """Days since 1970-01-01 of a proleptic Gregorian date (year 0 included, as RFC 3339 allows); None if invalid."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days_in_month = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not 1 <= month <= 12 or not 1 <= day <= days_in_month[month - 1]:
        return None
    y = year - (month <= 2)  # days_from_civil (H. Hinnant): any year, no datetime limits
    era, yoe = divmod(y, 400)
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _clamp(instant: datetime) -> datetime:
    return min(max(instant, EARLIEST), LATEST)


def parse_instant(value: object) -> datetime:
    """An RFC 3339 date-time (offset required) as an aware UTC datetime, clamped to 1970..9000."""
    if isinstance(value, str) and _COMMON_RE.fullmatch(value):  # the usual shape, parsed in C (the hot path)
        try:
            return _clamp(datetime.fromisoformat(value).astimezone(UTC))
        except (ValueError, OverflowError):
            pass  # year 0, a leap second, a day that does not exist...: decided below
    match = _DATE_TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(_DATE_TIME_HINT)
    y, mo, d, h, mi, s, frac, zulu, sign, oh, om = match.groups()
    days = _days_from_civil(int(y), int(mo), int(d))
    offset_min = 0 if zulu else (int(oh) * 60 + int(om)) * (1 if sign == "+" else -1)
    if days is None or int(h) > 23 or int(mi) > 59 or int(s) > 60 or int(oh or 0) > 23 or int(om or 0) > 59:
        raise ValueError(_DATE_TIME_HINT)
    minute_utc = (days * 1440 + int(h) * 60 + int(mi) - offset_min) % 1440
    if int(s) == 60 and minute_utc != 1439:  # a leap second exists only at 23:59:60 UTC
        raise ValueError(_DATE_TIME_HINT)
    seconds = (days * 1440 + int(h) * 60 + int(mi) - offset_min) * 60 + int(s)
    micros = seconds * 1_000_000 + int((frac or "0")[:6].ljust(6, "0"))
    return EARLIEST + timedelta(microseconds=min(max(micros, 0), _SPAN_MICROS))


def parse_day(value: object) -> date:
    """An RFC 3339 full-date (`YYYY-MM-DD`), clamped to 1970..9000."""
    match = _DATE_RE.fullmatch(value) if isinstance(value, str) else None
    days = _days_from_civil(*map(int, match.groups())) if match else None
    if days is None:
        raise ValueError("must be a date YYYY-MM-DD, e.g. 2026-01-01")
    return min(date.fromordinal(_EPOCH_DAY + max(days, 0)), LATEST.date())


Instant = Annotated[datetime, PlainValidator(parse_instant), WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[date, PlainValidator(parse_day), WithJsonSchema({"type": "string", "format": "date"})]

Start = Annotated[
    Instant | None,
    Query(description="Range start (inclusive), RFC 3339 with offset, e.g. `2026-01-01T00:00:00Z`.",
          examples=["2026-01-01T00:00:00Z"]),
]  # fmt: skip
End = Annotated[
    Instant | None,
    Query(description="Range end (exclusive), RFC 3339 with offset. Defaults to now. A range ending before it "
          "starts is empty.", examples=["2026-01-01T01:00:00Z"]),
]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (1-500).")]


def time_range(
    start: datetime | None, end: datetime | None, *, default: timedelta, longest: timedelta
) -> tuple[datetime, datetime]:
    """[start, end) in UTC: `end` defaults to now, `start` to `end - default`; cut at `start + longest`.

    `end <= start` is returned as is: an empty range, which the queries answer with no rows."""
    end = _clamp((end or datetime.now(UTC)).astimezone(UTC))
    start = _clamp(start.astimezone(UTC)) if start else max(end - default, EARLIEST)
    return start, min(end, start + longest)


def day_range(
    start_day: date | None, end_day: date | None, *, default_days: int, longest_days: int
) -> tuple[date, date]:
    """[start_day, end_day] inclusive; `end_day` defaults to today (UTC), cut at `longest_days` days.

    An `end_day` before `start_day` is an empty range."""
    end_day = end_day or datetime.now(UTC).date()
    start_day = start_day or max(end_day - timedelta(days=default_days - 1), EARLIEST.date())
    return start_day, min(end_day, start_day + timedelta(days=longest_days - 1))


# Keyset cursors: the last row's sort key, one dot-separated field per key column. Instants (and days) are
# microseconds since 1970, integers decimal, text base64url. Every string of the documented shape decodes to
# a position (out-of-range numbers are clamped, bytes that are not UTF-8 replaced), so a well-shaped cursor is
# never an error: it continues after whatever position it names.
_NUMBER = r"-?[0-9]{1,19}"
_TEXT = r"[A-Za-z0-9_-]{0,400}"
_BIGINT = 2**63 - 1


def cursor_pattern(kinds: tuple[type, ...]) -> str:
    return "^" + r"\.".join(_TEXT if kind is str else _NUMBER for kind in kinds) + "$"


def cursor_query(kinds: tuple[type, ...]) -> Any:  # noqa: ANN401 - a FastAPI Query marker
    """The `cursor` parameter of a list whose sort key has these column types."""
    return Query(
        pattern=cursor_pattern(kinds),
        description="`next_cursor` of the previous page; omit for the first page. Opaque: pass it back as it came.",
    )


def _micros(value: datetime | date) -> int:
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time(), UTC)
    return (value - EARLIEST) // timedelta(microseconds=1)


def encode_cursor(values: list[Any]) -> str:
    """The cursor for the last row of a page (its sort key)."""
    fields = []
    for v in values:
        if isinstance(v, datetime | date):
            fields.append(str(_micros(v)))
        elif isinstance(v, int):
            fields.append(str(v))
        else:
            fields.append(base64.urlsafe_b64encode(str(v).encode()).decode().rstrip("="))
    return ".".join(fields)


def _text(field: str) -> str:
    field = field[: len(field) - 1] if len(field) % 4 == 1 else field  # a dangling sextet carries no byte
    raw = base64.urlsafe_b64decode(field + "=" * (-len(field) % 4))
    return raw.decode("utf-8", "replace").replace("\x00", "")  # PostgreSQL text cannot hold NUL


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    """The position a cursor names, typed by `kinds` (datetime, date, int, str). The route's pattern has checked
    its shape; anything else here is a bug, not bad input."""
    fields = cursor.split(".")
    if len(fields) != len(kinds):
        raise ValueError(f"cursor has {len(fields)} fields, expected {len(kinds)}")
    out: list[Any] = []
    for kind, field in zip(kinds, fields, strict=True):
        if kind is str:
            out.append(_text(field))
        elif kind is int:
            out.append(max(-_BIGINT, min(_BIGINT, int(field))))
        else:
            instant = EARLIEST + timedelta(microseconds=max(0, min(_SPAN_MICROS, int(field))))
            out.append(instant if kind is datetime else instant.date())
    return out


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
