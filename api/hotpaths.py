"""Lean routes for the two hottest reads: content stats and trending.

FastAPI resolves a route's dependencies and validates its parameters in Python on every request: for these two
small reads that was most of the API's CPU per request (docs/api.md#performance). A middleware puts each lean
route in front of its FastAPI route, on the same path; it answers the requests whose parameters it can read with
a few plain checks: the same key check (`deps.authorize`), the same rate limit, the same query and the same
response function as the FastAPI route. Whatever it cannot read simply (a malformed instant, an unknown
granularity, a limit that is not a small number, another method...) goes to the FastAPI route unchanged,
which answers it exactly as before (422 problems included). Errors raised here (401, 403, 404, 429, a
database outage) are answered by the app's exception handlers, like the FastAPI route's. The OpenAPI document
still comes from the FastAPI routes: the lean routes accept nothing the schema forbids.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import api_key_header, authorize
from api.params import parse_instant
from api.routers.content import CONTENT_ID_MAX, CONTENT_ID_PATTERN, Granularity, stats_response
from api.routers.trending import REGION_PATTERN, trending_response

# The routes' own patterns, matched whole (fullmatch: no `$` before a trailing newline).
_CONTENT_ID = re.compile(CONTENT_ID_PATTERN)
_REGION = re.compile(REGION_PATTERN)
_LIMIT = re.compile(r"[1-9][0-9]?")  # 1..99, then the route's le=50; anything else is FastAPI's to judge
_KEY_HEADER = api_key_header.model.name

# A lean handler's answer; None hands the request to the FastAPI route.
Lean = Callable[[Request], Awaitable[Response | None]]


def _instant(value: str | None) -> datetime | None:
    """None when absent; ValueError when the FastAPI route would answer 422."""
    return None if value is None else parse_instant(value)


async def content_stats(request: Request) -> Response | None:
    content_id = request.path_params["content_id"]
    query = request.query_params
    try:
        granularity = Granularity(query.get("granularity", "minute"))
        start, end = _instant(query.get("start")), _instant(query.get("end"))
    except ValueError:
        return None
    if len(content_id) > CONTENT_ID_MAX or not _CONTENT_ID.fullmatch(content_id):
        return None
    async with request.app.state.reader.connection() as conn:
        await authorize(request, conn, request.headers.get(_KEY_HEADER), "read")
        return await stats_response(request, conn, content_id, granularity, start, end)


async def trending(request: Request) -> Response | None:
    query = request.query_params
    region, limit = query.get("region", "GLOBAL"), query.get("limit", "10")
    if not _REGION.fullmatch(region) or not _LIMIT.fullmatch(limit) or int(limit) > 50:
        return None
    try:
        at = _instant(query.get("at"))
    except ValueError:
        return None
    async with request.app.state.reader.connection() as conn:
        await authorize(request, conn, request.headers.get(_KEY_HEADER), "read")
        return await trending_response(request, conn, region, at, int(limit))


LEAN_ROUTES: list[tuple[re.Pattern[str], Lean]] = [
    (re.compile(r"/v1/content/(?P<content_id>[^/]+)/stats"), content_stats),  # Starlette's `{content_id}`
    (re.compile(r"/v1/trending"), trending),
]


class LeanRoutes:
    """ASGI middleware: a GET on a lean route's path gets the lean answer, or the app's when it declines.

    It runs outside the app's exception middleware, so it renders the exceptions of a lean handler with the
    app's own handlers (the same problem details as the FastAPI routes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"].removeprefix(scope.get("root_path", ""))
            for pattern, lean in LEAN_ROUTES:
                if match := pattern.fullmatch(path):
                    request = Request({**scope, "path_params": match.groupdict()}, receive)
                    try:
                        response = await lean(request)
                    except Exception as exc:  # noqa: BLE001 - rendered as the routes would, or raised again
                        response = await _handled(request, exc)
                    if response is not None:
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's exception handler's answer for `exc` (the nearest class in its MRO); `exc` again if none."""
    handlers = request.app.exception_handlers
    handler = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    if handler is None:
        raise exc
    return await handler(request, exc)
