"""The FastAPI application: `uvicorn api.main:app` (the stack binds it to 127.0.0.1)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api import deps, docs, errors, hotpaths
from api.db import make_pools
from api.errors import Problem
from api.ratelimit import KeyRateLimiter
from api.routers import (
    alerts,
    anomalies,
    catalog,
    cdn,
    content,
    exports,
    impact,
    marts,
    notifications,
    regions,
    reports,
    trending,
)
from streampulse.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Real-time content analytics of the StreamPulse store, straight from the Flink job's tables and dbt's marts.

* **Authentication**: every data endpoint needs an `X-API-Key` header with a key from
  `streampulse keys create --name NAME [--scope read] [--scope acknowledge]`. Scopes: `read` (every GET),
  `acknowledge` (acknowledging anomalies).
* **Rate limits** per key; over the limit the answer is `429` with `Retry-After` (seconds).
* **Time**: every timestamp is UTC, ISO 8601 with offset (`Z`). Parameters must carry an offset too
  (`2026-01-01T00:00:00Z`, `2025-12-31T16:00:00-08:00`); ranges are `[start, end)`.
* **Errors** are problem details (RFC 9457, `application/problem+json`); `422` names the field.
* **Lists** are paged with an opaque `cursor` (keyset pagination): pass `next_cursor` back.
"""


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str | None = Field(None, examples=["ok"])


def create_app(dsn: str | None = None, settings: Settings | None = None, lean_routes: bool = True) -> FastAPI:
    """Build the app; `dsn` overrides the platform database (tests point it at their own). `lean_routes=False`
    leaves the hot reads to their FastAPI routes alone (api/hotpaths.py; tests compare the two)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pools = make_pools(dsn or settings.dsn(), settings.api_pool_size, settings.api_export_pool_size)
        for pool in pools:
            await pool.open(wait=False)
        app.state.reader, app.state.writer, app.state.exporter = pools
        # Created here, inside the serving event loop: the limiter's async locks belong to that loop.
        app.state.rate_limiter = KeyRateLimiter(settings.api_rate_limit, settings.api_rate_limit_storage)
        try:
            yield
        finally:
            for pool in pools:
                await pool.close()

    app = FastAPI(
        title="StreamPulse API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={"tracing": settings.api_opentelemetry, "metrics": settings.api_opentelemetry},
        docs_url=None,  # served from the package's assets by api/docs.py, never from a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "content", "description": "One item's performance over time."},
            {"name": "trending", "description": "Top-N trending items per region and globally."},
            {"name": "regions", "description": "Demand, revenue and CDN health per region."},
            {"name": "cdn", "description": "Edge node health, minute by minute."},
            {"name": "anomalies", "description": "CDN anomalies detected by the stream job; acknowledgements."},
            {"name": "alerts", "description": "Live alerts (Server-Sent Events)."},
            {"name": "notifications", "description": "The alert notifier's delivery log."},
            {"name": "marts", "description": "BI marts built by dbt (daily KPIs, content, trends, SLA, revenue)."},
            {"name": "exports", "description": "Bulk exports of real-time tables and marts (CSV, NDJSON, Parquet)."},
            {"name": "catalog", "description": "The content catalog."},
            {"name": "reports", "description": "Daily reports (HTML, CSV)."},
            {"name": "health", "description": "Liveness and readiness (no key needed)."},
        ],
    )
    app.state.settings = settings
    app.state.alert_streams = 0
    app.state.key_cache = deps.key_cache(settings.api_key_cache_seconds)
    errors.install(app)
    docs.install(app)
    if lean_routes:  # added first: innermost of the middlewares, inside CORS
        app.add_middleware(hotpaths.LeanRoutes)
    if settings.api_cors_origins:  # closed unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "Last-Event-ID"],
            max_age=600,
        )
    for router in (
        content,
        trending,
        regions,
        cdn,
        anomalies,
        impact,
        notifications,
        alerts,
        marts,
        exports,
        catalog,
        reports,
    ):
        app.include_router(router.router, prefix="/v1")

    @app.get("/health", tags=["health"], response_model=Health, summary="Liveness")
    async def health() -> Health:
        """The process answers. Does not touch the database (see `/ready`)."""
        return Health(status="ok")

    @app.get(
        "/ready",
        tags=["health"],
        response_model=Health,
        summary="Readiness: the database answers",
        responses={503: {"description": "The database is not reachable.", "model": Health}},
    )
    async def ready(request: Request) -> Any:  # noqa: ANN401 - a model or a 503 response
        """`200` when a pooled connection can run a query within 2 s, else `503`."""
        try:
            async with request.app.state.reader.connection(timeout=2) as conn:
                await conn.execute("select 1")
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("not ready: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return Health(status="ok", database="ok")

    def openapi() -> dict:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags,
            )  # fmt: skip
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in (Problem, errors.FieldError, alerts.AlertEvent):
                schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
            # Our 422 is a Problem, not FastAPI's default HTTPValidationError.
            for path in spec["paths"].values():
                for op in path.values():
                    r422 = op.get("responses", {}).get("422")
                    if r422 and "application/json" in r422.get("content", {}):
                        r422["content"] = {errors.PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()
