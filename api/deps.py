"""Dependencies shared by the routers: pooled connections, the caller's API key, scopes and rate limits."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from psycopg import AsyncConnection

from api.keys import ApiKey, verify_key_async

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key from `streampulse keys create --name NAME [--scope read --scope acknowledge]`.",
)


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection as the read-only role."""
    async with request.app.state.reader.connection() as conn:
        yield conn


async def get_writer(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection as the role that may record acknowledgements."""
    async with request.app.state.writer.connection() as conn:
        yield conn


DbConn = Annotated[AsyncConnection, Depends(get_conn)]
WriterConn = Annotated[AsyncConnection, Depends(get_writer)]


async def _verified(request: Request, conn: AsyncConnection, presented: str) -> ApiKey | None:
    """verify_key_async, remembering valid keys for `api_key_cache_seconds` (0: ask the database every time).

    Only valid keys are cached (a flood of made-up keys cannot grow the cache); a revoked key stops working
    within that many seconds."""
    ttl = request.app.state.settings.api_key_cache_seconds
    if ttl <= 0:
        return await verify_key_async(conn, presented)
    cache: TTLCache = request.app.state.key_cache
    digest = hashlib.sha256(presented.encode()).hexdigest()
    hit = cache.get(digest)
    if hit is not None:
        return hit
    key = await verify_key_async(conn, presented)
    if key is None:
        cache.pop(digest, None)
    else:
        cache[digest] = key
    return key


def key_cache(ttl_s: float) -> TTLCache:
    """Valid keys for `ttl_s` seconds, at most 10,000 (the least recently used go first)."""
    return TTLCache(maxsize=10_000, ttl=max(ttl_s, 0.001))


async def authorize(request: Request, conn: AsyncConnection, presented: str | None, scope: str) -> ApiKey:
    """The caller's key if it is valid, unrevoked, holds `scope` and is within its rate limit; else 401/403/429."""
    if not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Missing API key: send it in the X-API-Key header.",
            headers={"WWW-Authenticate": "APIKey"},
        )
    key = await _verified(request, conn, presented)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Invalid or revoked API key.", headers={"WWW-Authenticate": "APIKey"}
        )
    if scope not in key.scopes:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"This API key lacks the '{scope}' scope.")
    wait = await request.app.state.rate_limiter.retry_after(key.key_id)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Rate limit exceeded for this API key; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    return key


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, ApiKey]]:
    """A dependency admitting keys with `scope`; it checks the key on the request's own pooled connection."""

    async def check(
        request: Request, conn: DbConn, presented: Annotated[str | None, Security(api_key_header)]
    ) -> ApiKey:
        return await authorize(request, conn, presented, scope)

    return check


async def require_stream_key(request: Request, presented: Annotated[str | None, Security(api_key_header)]) -> ApiKey:
    """`read` scope for long-lived streams: the connection goes back to the pool right after the check."""
    async with request.app.state.reader.connection() as conn:
        return await authorize(request, conn, presented, "read")


async def read_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    """A reader connection for a caller whose key holds `read`, checked on that same connection.

    `ReadKey` + `DbConn` in one dependency node, and the header read here rather than through a `Security`
    sub-dependency, for the hot endpoints: FastAPI resolves dependencies in Python on every request, at a cost
    per node and per parameter (about 40% of a trending request's CPU in cProfile). Routes using it declare the
    key requirement in their OpenAPI with `openapi_extra=READ_KEY_SECURITY`."""
    async with request.app.state.reader.connection() as conn:
        await authorize(request, conn, request.headers.get(api_key_header.model.name), "read")
        yield conn


# The OpenAPI security requirement that `Security(api_key_header)` would add, for routes using `ReadConn`.
READ_KEY_SECURITY = {"security": [{api_key_header.scheme_name: []}]}


require_key = require_scope("read")
ReadKey = Annotated[ApiKey, Depends(require_key)]
ReadConn = Annotated[AsyncConnection, Depends(read_conn)]
AckKey = Annotated[ApiKey, Depends(require_scope("acknowledge"))]
StreamKey = Annotated[ApiKey, Depends(require_stream_key)]
