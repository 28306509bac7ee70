"""Pure pieces of the API: cursors, time ranges, alert records, resume ids, rate limits, problem details."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.exceptions import RequestValidationError

from api.params import after_cursor, decode_cursor, encode_cursor, page, time_range
from api.ratelimit import KeyRateLimiter
from api.routers.alerts import parse_alert, parse_resume
from api.routers.anomalies import ID_PATTERN, anomaly_id, parse_id
from api.routers.reports import FILE

UTC = timezone.utc


def test_cursor_round_trip_keeps_types_and_rejects_forgeries():
    t = datetime(2026, 1, 1, 0, 3, tzinfo=UTC)
    cursor = encode_cursor([t, "ERROR_RATE", "edge-de-fra-1"])
    assert decode_cursor(cursor, (datetime, str, str)) == [t, "ERROR_RATE", "edge-de-fra-1"]
    assert decode_cursor(encode_cursor([date(2026, 1, 2), 3]), (date, int)) == [date(2026, 1, 2), 3]
    for bad in ("x", "!!!", encode_cursor(["2026-01-01T00:00:00"]), encode_cursor([1, 2]), encode_cursor(["a"])):
        with pytest.raises(RequestValidationError) as err:
            decode_cursor(bad, (datetime, str))
        assert err.value.errors()[0]["loc"] == ("query", "cursor")


def test_keyset_pages_continue_after_the_last_row_of_the_previous_page():
    rows = [("a", 1), ("b", 2), ("c", 3)]  # the query asked for limit + 1 rows
    items, cursor = page(rows, 2, lambda r: [r[0], r[1]])
    assert items == rows[:2]
    predicate, params = after_cursor(cursor, ["title", "n"], (str, int))
    assert predicate == "(title, n) > (%(cursor_0)s, %(cursor_1)s)" and params == {"cursor_0": "b", "cursor_1": 2}
    assert after_cursor(cursor, ["title", "n"], (str, int), descending=True)[0].startswith("(title, n) < ")
    assert page(rows, 3, lambda r: [r[0]]) == (rows, None)  # the last page has no cursor
    assert after_cursor(None, ["title"], (str,)) == ("true", {})


def test_time_range_is_utc_bounded_and_defaults_to_the_last_span():
    start, end = time_range(
        datetime(2025, 12, 31, 16, tzinfo=timezone(timedelta(hours=-8))), datetime(2026, 1, 1, 1, tzinfo=UTC),
        default=timedelta(hours=1),
        longest=timedelta(days=7),
    )  # fmt: skip
    assert start == datetime(2026, 1, 1, tzinfo=UTC) and start.tzinfo == UTC and end.tzinfo == UTC
    start, end = time_range(None, datetime(2026, 1, 1, tzinfo=UTC), default=timedelta(hours=1), longest=timedelta(1))
    assert end - start == timedelta(hours=1)
    for args in ((datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
                 (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC)),
                 (datetime(1, 1, 1, tzinfo=UTC), None)):  # fmt: skip
        with pytest.raises(RequestValidationError):
            time_range(*args, default=timedelta(hours=1), longest=timedelta(days=7))


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
    assert parse_resume("0-15.1-3") == {0: 15, 1: 3} and parse_resume(None) == {}
    for bad in ("0-15;1-3", "abc", "0-", "-1-2"):
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
