"""JSON responses for the hot endpoints: plain dicts serialised by orjson, with an ETag and freshness headers.

The route still declares its `response_model` (OpenAPI, schemathesis check the shape); the handler returns
plain dicts. orjson writes UTC datetimes as ISO 8601 with `Z` (OPT_UTC_Z), exactly as pydantic does for the
models (a unit test compares the bytes), about 4x faster than pydantic-core's `to_json` for untyped dicts.

HTTP caching (docs/api.md#caching): every answer carries a strong `ETag` (a hash of its bytes); `If-None-Match`
with that tag is answered `304 Not Modified` without a body. The query still runs for a revalidation (the tag
is the answer's hash): it saves the transfer and the client's parsing. Freshness:

* an answer about windows that ended more than `SETTLED` ago may be reused until the next minute window closes
  (`private, max-age` <= 60 s). Closed windows do not change, except when a replay rewrites them: a client
  then sees the rewrite within a minute;
* anything newer (the default "up to now", the newest trending window) is `no-cache`: the client must
  revalidate every time, so it never keeps an answer that lacks a window the job wrote since. The job writes a
  window once its watermark passes the window's end, which takes as long as events take to arrive: no clock
  can say that a recent window is final.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic_core import to_jsonable_python

_OPTIONS = orjson.OPT_UTC_Z
# Windows that ended this long ago have been written by the job (watermark delay, sink flush and checkpoint
# are seconds) unless its input stalled; a replay may still rewrite them.
SETTLED = timedelta(minutes=5)


def dumps(content: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
    """The JSON bytes of `content`; types orjson does not know (Decimal, ...) go through pydantic-core."""
    return orjson.dumps(content, option=_OPTIONS, default=to_jsonable_python)


class FastJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
        return dumps(content)


def seconds_to_next_window_close(now: float | None = None) -> int:
    """Whole seconds until the next UTC minute boundary (when the next 1-minute window closes), at least 1."""
    now = time.time() if now is None else now
    return max(1, 60 - int(now) % 60)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match asks: `*`, or any listed tag with the same opaque value."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def cache_control(data_until: datetime | None, now: float | None = None) -> str:
    """The Cache-Control of an answer about windows ending by `data_until` (None: up to now)."""
    now = time.time() if now is None else now
    if data_until is None or data_until > datetime.fromtimestamp(now, timezone.utc) - SETTLED:
        return "private, no-cache"
    return f"private, max-age={seconds_to_next_window_close(now)}"


def cacheable_json(request: Request, content: Any, data_until: datetime | None) -> Response:  # noqa: ANN401
    """`content` as JSON with ETag and the Cache-Control for data up to `data_until` (see the module's
    docstring); 304 when the client's `If-None-Match` names the same ETag."""
    body = dumps(content)
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control(data_until)}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


# OpenAPI entries for the two headers and the 304 (merged into a route's `responses`).
CACHE_HEADERS = {
    "ETag": {
        "description": "A strong entity tag of this answer; send it back in `If-None-Match` to revalidate.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`private, max-age=N` (N: seconds until the next 1-minute window closes) for windows that "
        "ended more than 5 minutes ago; `private, no-cache` (revalidate every time) for anything newer.",
        "required": True,
        "schema": {"type": "string"},
    },
}
CACHE_RESPONSES: dict[int | str, dict] = {
    200: {"headers": CACHE_HEADERS},
    304: {"description": "Not modified: the `If-None-Match` tag is still current.", "headers": CACHE_HEADERS},
}
