"""Connection pools. Reads and writes use separate PostgreSQL roles (created by api/postgres/002_*.sql).

Every pooled connection switches with SET ROLE to a NOLOGIN role right after connecting: the reader may
only SELECT, and its transactions are read-only; the writer may only record anomaly acknowledgements.
Every session runs in UTC, whatever the server's or the database's time zone.
"""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

READER_ROLE = "streampulse_api_reader"
WRITER_ROLE = "streampulse_api_writer"
SESSION_OPTIONS = "-c timezone=UTC -c statement_timeout=10000 -c application_name=streampulse-api"


async def _utc(conn: AsyncConnection) -> None:
    # The startup option alone is not enough: PGTZ in the environment overrides it, and psycopg renders
    # timestamptz values in the session's zone. Set it explicitly after connecting.
    await conn.execute("set time zone 'UTC'")


async def _as_reader(conn: AsyncConnection) -> None:
    await _utc(conn)
    await conn.execute(f"set role {READER_ROLE}")
    await conn.execute("set default_transaction_read_only = on")


async def _as_writer(conn: AsyncConnection) -> None:
    await _utc(conn)
    await conn.execute(f"set role {WRITER_ROLE}")


def make_pools(dsn: str, size: int, exports: int = 2) -> tuple[AsyncConnectionPool, ...]:
    """(reader, writer, exporter) pools, not yet opened. Exports read as the reader role on a pool of their own,
    so that long exports never take the connections the other endpoints need."""
    kwargs = {"autocommit": True, "options": SESSION_OPTIONS}
    reader = AsyncConnectionPool(
        dsn, min_size=min(2, size), max_size=size, open=False, timeout=5, kwargs=kwargs, configure=_as_reader
    )
    writer = AsyncConnectionPool(
        dsn, min_size=0, max_size=2, open=False, timeout=5, kwargs=kwargs, configure=_as_writer
    )
    exporter = AsyncConnectionPool(
        dsn, min_size=0, max_size=exports, open=False, timeout=5, kwargs=kwargs, configure=_as_reader
    )
    return reader, writer, exporter
