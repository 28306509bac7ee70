"""Errors as RFC 9457 problem details (`application/problem+json`), naming the offending field."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="The parameter at fault.", examples=["start"])
    message: str = Field(examples=["Input should have timezone info"])


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = Field("about:blank", examples=["about:blank"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["start: Input should have timezone info"])
    errors: list[FieldError] | None = Field(None, description="One entry per invalid field (422 only).")


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}
_DESCRIPTIONS = {
    400: "The request body is not valid JSON.",
    401: "No API key, or an invalid or revoked one.",
    403: "The API key lacks the scope this endpoint needs.",
    404: "No such resource.",
    422: "A parameter is invalid; `detail` and `errors` name it.",
    429: "Rate limit of this API key exceeded; retry after `Retry-After` seconds.",
    503: "The database (or the mart asked for) is not available yet, or the server is at capacity; retry after "
    "`Retry-After` seconds.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
_HEADERS: dict[int, dict] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with: `APIKey` (the `X-API-Key` header).",
            "required": True,
            "schema": {"type": "string", "enum": ["APIKey"]},
        }
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


def problem(status: int, detail: str, headers: dict[str, str] | None = None, errors: list[FieldError] | None = None):  # noqa: ANN201
    body = Problem(title=_TITLES.get(status, "Error"), status=status, detail=detail, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM)


def responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI entries for the problem responses an endpoint can give (503 always: any query may find the
    database unreachable)."""
    ref = {"$ref": "#/components/schemas/Problem"}
    out: dict[int | str, dict] = {}
    for c in sorted({*codes, 503}):
        out[c] = {"description": _DESCRIPTIONS[c], "content": {PROBLEM: {"schema": ref}}}
        if c in _HEADERS:
            out[c]["headers"] = _HEADERS[c]
    return out


def field_name(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(field=field_name(e["loc"]), message=e["msg"]) for e in exc.errors()]
        return problem(422, "; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)

    @app.exception_handler(HTTPException)  # Starlette's: also the router's own 404 and 405 (with `Allow`)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem(503, "The database is not reachable; try again shortly.", headers={"Retry-After": "5"})


def invalid(field: str, message: str) -> RequestValidationError:
    """A 422 for a rule checked in code, shaped like the framework's own validation errors."""
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])
