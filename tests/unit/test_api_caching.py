"""The hot endpoints' JSON (orjson) is byte for byte what pydantic writes; ETag, Cache-Control and 304."""

from datetime import datetime, timedelta, timezone

from pydantic_core import to_json
from starlette.requests import Request

from api.fastjson import cache_control, cacheable_json, dumps, seconds_to_next_window_close

UTC = timezone.utc


def _request(if_none_match: str | None = None) -> Request:
    headers = [(b"if-none-match", if_none_match.encode())] if if_none_match else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})


def test_orjson_writes_the_same_bytes_as_pydantic():
    body = {
        "content_id": "mov-000001",
        "start": datetime(2026, 1, 1, tzinfo=UTC),
        "end": datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
        "points": [
            {
                "window_start": datetime(2026, 1, 1, 0, 1, tzinfo=UTC) + timedelta(microseconds=m),
                "events": 2**62,
                "ttfb": f,
                "users": None,
                "title": 'Ünïcødé "quoted" \\ </script>',
            }
            for m, f in ((0, 150.0), (1, 180.5), (10, 1e20), (999, 1e-7), (500000, 0.1 + 0.2), (0, -0.0))
        ],
    }
    assert dumps(body) == to_json(body)
    # One deliberate difference: NaN is null (valid JSON, and the schema's `number | null`); pydantic wrote NaN.
    assert dumps({"x": float("nan")}) == b'{"x":null}'


def test_cache_control_lasts_until_the_next_minute_closes():
    assert seconds_to_next_window_close(1767225600.0) == 60  # on a boundary: the next one is a minute away
    assert seconds_to_next_window_close(1767225659.9) == 1
    assert seconds_to_next_window_close(1767225630.2) == 30


def test_only_settled_windows_may_be_reused_without_revalidation():
    now = 1767225630.0  # 2026-01-01T00:00:30Z
    assert cache_control(None, now) == "private, no-cache"  # up to now
    assert cache_control(datetime(2025, 12, 31, 23, 56, tzinfo=UTC), now) == "private, no-cache"  # 4.5 min ago
    assert cache_control(datetime(2025, 12, 31, 23, 55, tzinfo=UTC), now) == "private, max-age=30"


def test_etag_revalidation_answers_304_without_a_body():
    first = cacheable_json(_request(), {"a": 1}, None)
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"') and first.headers["cache-control"] == "private, no-cache"
    for header in (etag, f'"x", {etag}', f"W/{etag}", "*"):
        again = cacheable_json(_request(header), {"a": 1}, None)
        assert again.status_code == 304 and again.body == b"" and again.headers["etag"] == etag, header
    assert cacheable_json(_request(etag), {"a": 2}, None).status_code == 200  # the data changed: new tag and body
