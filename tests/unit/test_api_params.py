"""Pure pieces of the API: cursors, time ranges, alert records, resume ids, rate limits, problem details."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.exceptions import RequestValidationError

from api.params import (
    EARLIEST,
    LATEST,
    after_cursor,
    cursor_pattern,
    day_range,
    decode_cursor,
    encode_cursor,
    page,
    parse_day,
    parse_instant,
    time_range,
)
from api.ratelimit import KeyRateLimiter
from api.routers.alerts import parse_alert, parse_resume
from api.routers.anomalies import ID_PATTERN, anomaly_id, parse_id
from api.routers.reports import FILE

UTC = timezone.utc


def test_cursor_round_trip_keeps_types_and_any_well_shaped_cursor_is_a_position():
    t = datetime(2026, 1, 1, 0, 3, 0, 123456, tzinfo=UTC)
    kinds = (datetime, str, str)
    cursor = encode_cursor([t, "ERROR_RATE", "édge-de-fra-1"])
    assert re.fullmatch(cursor_pattern(kinds), cursor)
    assert decode_cursor(cursor, kinds) == [t, "ERROR_RATE", "édge-de-fra-1"]
    assert decode_cursor(encode_cursor([date(2026, 1, 2), 3]), (date, int)) == [date(2026, 1, 2), 3]
    # Strings the schema allows but this API never issued: still a position, never an error.
    for odd in ("-99999999999999999.A.", "9999999999999999999.AAAAA._-_-_", "0..AA"):
        assert re.fullmatch(cursor_pattern(kinds), odd)
        when, kind, subject = decode_cursor(odd, kinds)
        assert EARLIEST <= when <= LATEST and isinstance(kind, str) and "\x00" not in subject
    assert decode_cursor(encode_cursor(["a\x00b"]), (str,)) == ["ab"]  # PostgreSQL text holds no NUL
    assert not re.fullmatch(cursor_pattern(kinds), "x.y.z") and not re.fullmatch(cursor_pattern((int,)), "1.2")


def test_keyset_pages_continue_after_the_last_row_of_the_previous_page():
    rows = [("a", 1), ("b", 2), ("c", 3)]  # the query asked for limit + 1 rows
    items, cursor = page(rows, 2, lambda r: [r[0], r[1]])
    assert items == rows[:2]
    predicate, params = after_cursor(cursor, ["title", "n"], (str, int))
    assert predicate == "(title, n) > (%(cursor_0)s, %(cursor_1)s)" and params == {"cursor_0": "b", "cursor_1": 2}
    assert after_cursor(cursor, ["title", "n"], (str, int), descending=True)[0].startswith("(title, n) < ")
    assert page(rows, 3, lambda r: [r[0]]) == (rows, None)  # the last page has no cursor
    assert after_cursor(None, ["title"], (str,)) == ("true", {})


def test_time_range_is_utc_cut_at_its_longest_and_empty_when_reversed():
    start, end = time_range(
        datetime(2025, 12, 31, 16, tzinfo=timezone(timedelta(hours=-8))), datetime(2026, 1, 1, 1, tzinfo=UTC),
        default=timedelta(hours=1),
        longest=timedelta(days=7),
    )  # fmt: skip
    assert start == datetime(2026, 1, 1, tzinfo=UTC) and start.tzinfo == UTC and end.tzinfo == UTC
    start, end = time_range(None, datetime(2026, 1, 1, tzinfo=UTC), default=timedelta(hours=1), longest=timedelta(1))
    assert end - start == timedelta(hours=1)
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    assert time_range(jan, jan + timedelta(days=9), default=timedelta(hours=1), longest=timedelta(days=7)) == (
        jan, jan + timedelta(days=7)
    )  # fmt: skip
    start, end = time_range(jan + timedelta(days=1), jan, default=timedelta(hours=1), longest=timedelta(days=7))
    assert end <= start  # empty: the queries find no row
    assert day_range(date(2026, 1, 1), date(2028, 1, 1), default_days=7, longest_days=366)[1] == date(2027, 1, 1)


def test_instants_are_read_exactly_as_json_schema_date_time():
    assert parse_instant("2025-12-31T16:00:00-08:00") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_instant("2026-01-01t00:00:00.1234567z") == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert parse_instant("2026-12-31T23:59:60Z") == datetime(2027, 1, 1, tzinfo=UTC)  # a leap second
    assert parse_instant("0000-01-01T00:00:00Z") == EARLIEST and parse_instant("9999-12-31T23:59:59-23:59") == LATEST
    for bad in ("0.5", "1767225600", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z",
                "2026-02-29T00:00:00Z", "2026-01-01T12:59:60Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+24:00",
                "٢٠٢٦-01-01T00:00:00Z"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_instant(bad)
    assert parse_day("2024-02-29") == date(2024, 2, 29) and parse_day("0000-01-01") == EARLIEST.date()
    for bad in ("0", "2026-02-29", "2026-1-01", "20260101"):
        with pytest.raises(ValueError):
            parse_day(bad)


def test_instant_parsing_agrees_with_the_schema_validator_on_random_strings():
    import random

    import jsonschema_rs

    valid = jsonschema_rs.validator_for({"type": "string", "format": "date-time"}, validate_formats=True).is_valid
    rnd = random.Random(17)
    for _ in range(20_000):
        day = f"{rnd.randint(0, 9999):04}-{rnd.randint(0, 13):02}-{rnd.randint(0, 32):02}"
        clock = f"{rnd.randint(0, 24):02}:{rnd.choice((0, 59, 60)):02}:{rnd.choice((0, 59, 60, 61)):02}"
        offset = rnd.choice(("Z", "z", "+00:00", "-08:00", "+23:59", "+24:00", "-00:60", "+0100", ""))
        text = f"{day}{rnd.choice('Tt ')}{clock}{rnd.choice(('', '.5', '.'))}{offset}"
        try:
            parse_instant(text)
            ours = True
        except ValueError:
            ours = False
        assert ours == valid(text), text


def test_alert_records_from_flink_become_utc_events_with_the_anomaly_id():
    raw = json.dumps({"subject": "edge-de-fra-1", "anomaly_kind": "ERROR_RATE", "state": "OPEN",
                      "started_at": "2026-01-01T00:03:00", "at_time": "2026-01-01T00:06:00.000", "region": "DE",
                      "peak_value": 0.64, "severity": "CRITICAL"}).encode()  # fmt: skip
    alert = parse_alert(raw)
    assert alert.id == "ERROR_RATE:edge-de-fra-1:20260101T000300Z" and re.match(ID_PATTERN, alert.id)
    assert json.loads(alert.model_dump_json())["at"] == "2026-01-01T00:06:00Z"
    assert parse_id(alert.id) == ("ERROR_RATE", "edge-de-fra-1", datetime(2026, 1, 1, 0, 3, tzinfo=UTC))
    assert anomaly_id("LATENCY", "x", datetime(2025, 12, 31, 16, tzinfo=timezone(timedelta(hours=-8)))).endswith(
        ":20260101T000000Z"
    )


def test_resume_ids_are_strict():
    assert parse_resume("p0o15p1o3") == {0: 15, 1: 3} and parse_resume(None) == {}
    for bad in ("0-15.1-3", "p0o15;p1o3", "abc", "p0o", "p-1o2", "p0o1234567890123456789"):
        with pytest.raises(RequestValidationError):
            parse_resume(bad)


def test_rate_limit_is_per_key_and_tells_how_long_to_wait():
    async def run() -> tuple:
        limiter = KeyRateLimiter("2/minute")
        a = [await limiter.retry_after("a") for _ in range(3)]
        b = await limiter.retry_after("b")
        return a, b

    a, b = asyncio.run(run())
    assert a[:2] == [None, None] and 1 <= a[2] <= 60 and b is None


def test_report_names_cannot_leave_their_folder():
    assert re.match(FILE, "report.html") and re.match(FILE, "top_items-2026.csv")
    for bad in ("../x.csv", ".hidden.csv", "a/b.csv", "report.sh", "x.csv/..", "..csv"):
        assert not re.match(FILE, bad), bad
