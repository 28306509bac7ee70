"""Dependencies shared by the routers: a pooled database connection and the caller's API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.keys import ApiKey, verify_key

api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from `streampulse keys create`."
)


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    with request.app.state.pool.connection() as conn:
        yield conn


DbConn = Annotated[psycopg.Connection, Depends(get_conn)]


def require_key(conn: DbConn, presented: Annotated[str | None, Security(api_key_header)]) -> ApiKey:
    if not presented:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing API key: send it in the X-API-Key header.")
    key = verify_key(conn, presented)
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid or revoked API key.")
    if "read" not in key.scopes:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This API key lacks the 'read' scope.")
    return key


ReadKey = Annotated[ApiKey, Depends(require_key)]
