"""The FastAPI application: `uvicorn api.main:app` (the stack binds it to 127.0.0.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from api.routers import content
from streampulse.settings import get_settings


def create_app(dsn: str | None = None) -> FastAPI:
    """Build the app; `dsn` overrides the platform database (tests point it at their own)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = ConnectionPool(
            dsn or get_settings().dsn(),
            min_size=1,
            max_size=10,
            open=False,
            # UTC in every session, whatever the server's or the machine's time zone.
            kwargs={"autocommit": True, "options": "-c timezone=UTC"},
        )
        pool.open(wait=False)
        app.state.pool = pool
        yield
        pool.close()

    app = FastAPI(
        title="StreamPulse API",
        version="1",
        description="Real-time content analytics. Every data endpoint needs an `X-API-Key` header.",
        lifespan=lifespan,
    )
    app.include_router(content.router, prefix="/v1")

    @app.get("/health", tags=["health"], summary="Liveness and database readiness")
    def health(request: Request) -> JSONResponse:
        try:
            with request.app.state.pool.connection(timeout=2) as conn:
                conn.execute("select 1")
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app


app = create_app()
