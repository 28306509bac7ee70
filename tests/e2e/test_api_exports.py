"""Bulk exports through a real API server process (uvicorn): every row of every real-time table and mart equals
the database in each format, a million-row export streams in constant memory, a client that goes away ends
the query, and a key holds at most `api_max_exports_per_key` exports at once."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import psutil
import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from api.keys import create_key
from api.routers.exports import REALTIME
from api.routers.marts import MARTS, Mart
from streampulse.settings import Settings
from streampulse.waiting import wait_until
from tests.conftest import Isolated, _drop, _isolate
from tests.e2e.conftest import PipelineRun
from tests.e2e.helpers import T0
from tests.e2e.test_api_live import serve_api

pytestmark = pytest.mark.stack
BIG_ROWS = 1_000_000


def _z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _typed(text: str | None, oid: int):  # noqa: ANN202 - a cell of any column type
    """A cell of a CSV or NDJSON export back in the type psycopg reads from PostgreSQL."""
    if text is None:
        return None
    if oid == 1184:
        return datetime.fromisoformat(text)
    if oid == 1082:
        return date.fromisoformat(text)
    if oid in (20, 21, 23):
        return int(text)
    if oid in (700, 701):
        return float(text)
    if oid == 16:
        return {"true": True, "false": False}[text] if isinstance(text, str) else text
    if oid == 17:
        return base64.b64decode(text)
    return text


def _db_rows(dsn: str, sql: str, params: dict) -> tuple[list[str], list[int], list[tuple]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("set time zone 'UTC'")
        cur = conn.execute(sql, params)
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in cur.fetchall()]
        return [c.name for c in cur.description], [c.type_code for c in cur.description], rows


def _parse(body: bytes, fmt: str, names: list[str], oids: list[int]) -> tuple[list[str], list[tuple]]:
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(body))
        return table.column_names, [tuple(r[n] for n in table.column_names) for r in table.to_pylist()]
    if fmt == "ndjson":
        lines = [json.loads(line) for line in body.decode().splitlines()]
        assert all(list(obj) == names for obj in lines)
        return names, [tuple(_typed(obj[n], o) for n, o in zip(names, oids, strict=True)) for obj in lines]
    # CSV as PostgreSQL's COPY reads it: an unquoted empty field is NULL, a quoted one the empty string.
    options = pacsv.ConvertOptions(column_types={n: "string" for n in names}, strings_can_be_null=True,
                                   quoted_strings_can_be_null=False)  # fmt: skip
    table = pacsv.read_csv(io.BytesIO(body), convert_options=options)
    rows = [tuple(_typed(r[n], o) for n, o in zip(names, oids, strict=True)) for r in table.to_pylist()]
    return table.column_names, rows


@pytest.fixture(scope="module")
def pipeline_api(pipeline_run: PipelineRun, marts_built: str) -> Iterator[tuple[str, dict[str, str]]]:
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        key = {"X-API-Key": create_key(conn, "exports e2e", ["read"])}
    with serve_api(pipeline_run.dsn, STREAMPULSE_API_RATE_LIMIT="100000/second") as (url, _):
        yield url, key


def _sources() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(path, schema, table, order) of every real-time table and mart."""
    out = [(f"realtime/{t.value}", "realtime", t.value, cols) for t, cols in REALTIME.items()]
    out += [(f"marts/{m.value}", "marts", MARTS[m][0], MARTS[m][2]) for m in Mart]
    return out


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_every_table_and_mart_exports_exactly_its_rows(pipeline_api, pipeline_run, fmt):
    url, key = pipeline_api
    start, end = T0 + timedelta(minutes=3), T0 + timedelta(minutes=11)
    compared = 0
    with httpx.Client(base_url=url, headers=key, timeout=60) as client:
        for path, schema, table, order in _sources():
            day_column = order[0] == "day"
            # A cut through the middle of the run, and (for marts, cut by whole days) the day of the run.
            lo, hi = (T0.date(), T0.date() + timedelta(days=1)) if day_column else (start, end)
            params = {"format": fmt, "start": _z(T0 if day_column else start),
                      "end": _z(T0 + timedelta(days=1) if day_column else end)}  # fmt: skip
            response = client.get(f"/v1/exports/{path}", params=params)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["content-type"].startswith(
                {"csv": "text/csv", "ndjson": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}[fmt]
            )  # fmt: skip
            assert response.headers["content-disposition"].startswith(f'attachment; filename="{table}_')
            sql = f"select * from {schema}.{table} where {order[0]} >= %(lo)s and {order[0]} < %(hi)s" \
                  f" order by {', '.join(order)}"  # fmt: skip
            names, oids, want = _db_rows(pipeline_run.dsn, sql, {"lo": lo, "hi": hi})
            got_names, got = _parse(response.content, fmt, names, oids)
            assert got_names == names, path
            assert got == want, path  # every row, every column, in order
            compared += len(want)
            if table in ("content_minute_stats", "trending", "daily_kpis"):
                assert want, f"{path}: the pipeline run has rows here, the comparison must not be vacuous"
    assert compared > 10_000
    print(f"{fmt}: {compared} rows over {len(_sources())} tables and marts equal the database")


# ----- a million rows: memory, disconnects, the per-key limit ---------------------------------------------------


@pytest.fixture(scope="module")
def big(stack: Settings) -> Iterator[Isolated]:
    """A database of its own with 1,000,000 rows of realtime.content_minute_stats (5,000 items x 200 minutes)."""
    iso = _isolate(stack, "exports")
    with psycopg.connect(iso.dsn(), autocommit=True) as conn:
        conn.execute(
            """
            insert into realtime.content_minute_stats (content_id, window_start, window_end, events,
                downloads_started, downloads_completed, downloads_failed, streams_started, streams_ended,
                purchases, bytes_sent, distinct_users, ttfb_avg_ms, ttfb_p95_ms)
            select 'item-' || lpad((i %% 5000)::text, 5, '0'), %(t0)s + (i / 5000) * interval '1 minute',
                   %(t0)s + (i / 5000 + 1) * interval '1 minute', i %% 97, i %% 13, i %% 11, i %% 3, i %% 17,
                   i %% 7, i %% 5, i * 1013 %% 1000003, i %% 41, (i %% 997) / 7.0,
                   case when i %% 10 = 0 then null else i / 3.0 end
            from generate_series(0, %(n)s - 1) i
            """,
            {"t0": T0, "n": BIG_ROWS},
        )
        conn.execute("analyze realtime.content_minute_stats")
    yield iso
    _drop(stack, iso)


@pytest.fixture(scope="module")
def big_api(big: Isolated) -> Iterator[tuple[str, Isolated, psutil.Process]]:
    with serve_api(big.dsn(), STREAMPULSE_API_RATE_LIMIT="100000/second") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        server = next(c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port and c.status == "LISTEN")
        yield url, big, psutil.Process(server)


def _key(iso: Isolated, name: str) -> dict[str, str]:
    with psycopg.connect(iso.dsn(), autocommit=True) as conn:
        return {"X-API-Key": create_key(conn, name, ["read"])}


def _export_transactions(iso: Isolated) -> list[tuple]:
    """The API's sessions on this database that are inside a transaction (an export in progress)."""
    with psycopg.connect(iso.settings.dsn("postgres"), autocommit=True) as conn:
        return conn.execute(
            "select pid, state, query from pg_stat_activity where datname = %s and application_name = "
            "'streampulse-api' and xact_start is not null",
            (iso.database,),
        ).fetchall()


def test_a_million_rows_stream_in_constant_memory(big_api):
    url, iso, server = big_api
    key = _key(iso, "big export")
    lines, size, last, peak, baseline = 0, 0, b"", 0, None
    started = time.monotonic()
    with httpx.stream("GET", f"{url}/v1/exports/realtime/content_minute_stats", headers=key, timeout=60) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = (last + chunk)[-300:]
            if baseline is None and size > 5_000_000:
                baseline = server.memory_info().rss  # warmed up: pools, first batches
            elif baseline is not None:
                peak = max(peak, server.memory_info().rss)
    seconds = time.monotonic() - started
    assert lines == BIG_ROWS + 1  # the header and every row
    final = last.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    assert final.startswith(f"item-04999,{_z(T0 + timedelta(minutes=199))},")  # the last row in key order
    growth_mb = (peak - baseline) / 2**20
    print(f"exported {BIG_ROWS} rows, {size / 2**20:.0f} MiB in {seconds:.1f} s; server RSS grew {growth_mb:.1f} MiB")
    assert size > 100 * 2**20 and growth_mb < 40  # constant: far below what was sent


def test_a_client_that_disconnects_ends_the_query(big_api):
    url, iso, _ = big_api
    key = _key(iso, "disconnecting")
    assert _export_transactions(iso) == []
    with httpx.stream("GET", f"{url}/v1/exports/realtime/content_minute_stats", params={"format": "ndjson"},
                      headers=key, timeout=60) as r:  # fmt: skip
        assert r.status_code == 200
        chunks, got = r.iter_bytes(), 0  # kept: a discarded iterator would close the response at once
        while got < 2_000_000:
            got += len(next(chunks))
        running = _export_transactions(iso)
        assert len(running) == 1, running  # the export's cursor is open, fetched batch by batch
        assert "streampulse_export" in running[0][2], running
        r.close()  # the client goes away mid-export
    # The client has gone; the server notices, cancels the stream and rolls the cursor's transaction back.
    wait_until(lambda: _export_transactions(iso) == [], "the export's transaction to end", 15, interval_s=0.2)
    assert got < BIG_ROWS * 150 * 0.1  # it stopped long before the end (about 150 bytes a row)
    # Its slot is free again: two more exports of the same key are admitted at once.
    with (
        httpx.stream("GET", f"{url}/v1/exports/realtime/content_minute_stats", headers=key, timeout=60) as a,
        httpx.stream("GET", f"{url}/v1/exports/realtime/late_events", headers=key, timeout=60) as b,
    ):
        assert (a.status_code, b.status_code) == (200, 200)


def test_a_key_holds_at_most_two_exports_at_once(big_api):
    url, iso, _ = big_api
    key, other = _key(iso, "greedy"), _key(iso, "other")
    path = f"{url}/v1/exports/realtime/content_minute_stats"
    with httpx.stream("GET", path, headers=key, timeout=60) as first, httpx.stream("GET", path, headers=key,
                                                                                     timeout=60) as second:  # fmt: skip
        assert (first.status_code, second.status_code) == (200, 200)
        streams = [first.iter_bytes(), second.iter_bytes()]  # kept open: both exports are in progress
        assert all(next(s) is not None for s in streams) and len(_export_transactions(iso)) == 2
        third = httpx.get(path, headers=key, timeout=30)
        assert third.status_code == 429 and third.headers["content-type"] == "application/problem+json"
        assert int(third.headers["retry-after"]) >= 1 and "2 exports" in third.json()["detail"]
        with httpx.stream("GET", path, headers=other, timeout=60) as elsewhere:  # the limit is per key
            assert elsewhere.status_code == 200
    # Both closed by their client: the key may export again once the server has ended them.
    wait_until(lambda: _export_transactions(iso) == [], "the exports to end", 15, interval_s=0.2)
    with httpx.stream("GET", path, headers=key, timeout=60, params={"format": "parquet"}) as again:
        assert again.status_code == 200
