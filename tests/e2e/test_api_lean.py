"""The lean routes of the two hot reads (api/hotpaths.py) answer exactly as their FastAPI routes: the same
status, body and headers for valid requests, malformed parameters, missing, wrong, revoked and under-scoped
keys, revalidations, other methods and the rate limit, over the same real database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace

import psycopg
import pytest
from fastapi.testclient import TestClient

from api import fastjson, hotpaths
from api.keys import create_key, revoke_key
from api.main import create_app
from tests.conftest import Isolated

pytestmark = pytest.mark.stack

FILL = """
insert into catalog.content (content_id, title, content_type, genre, released_at, price_usd_cents, popularity)
select format('mov-%s', c), format('Title %s', c), 'MOVIE', 'Drama', timestamptz '2025-01-01', 399, 1.0 / c
from generate_series(1, 3) c;
insert into realtime.content_minute_stats
select format('mov-%s', c), timestamptz '2026-01-01' + m * interval '1 minute',
       timestamptz '2026-01-01' + (m + 1) * interval '1 minute', 10 + c + m, 4, 3, 1, 2, 2, 1, 1000 * m, 5,
       80 + c, 150.5 + m
from generate_series(1, 2) c, generate_series(0, 179) m;
insert into realtime.trending
select s, timestamptz '2026-01-01' + (w - 5) * interval '1 minute', timestamptz '2026-01-01' + w * interval '1 minute',
       r, format('mov-%s', 1 + (w + r) % 4), 100 - r, 60 - r, 40, 10.0 - r / 2.0
from unnest(array['GLOBAL', 'DE']) s, generate_series(5, 60) w, generate_series(1, 10) r;
"""

STATS = "/v1/content/{}/stats"
QUERIES = [
    # valid
    (STATS.format("mov-1"), {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}),
    (STATS.format("mov-2"), {"start": "2026-01-01T01:30:00+02:00", "end": "2026-01-01T02:00:00.5Z"}),
    (STATS.format("mov-1"), {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "granularity": "hour"}),
    (STATS.format("mov-1"), {"start": "2025-12-31T00:00:00Z", "end": "2026-03-01T00:00:00Z", "granularity": "day"}),
    (STATS.format("mov-1"), {"start": "2025-12-01T00:00:00Z", "end": "2026-01-01T00:30:00Z"}),  # cut at 7 days
    (STATS.format("mov-1"), {"start": "2026-01-01T01:00:00Z", "end": "2026-01-01T00:00:00Z"}),  # empty range
    (STATS.format("mov-3"), {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}),  # in the catalog only
    (STATS.format("mov-9"), {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}),  # unknown: 404
    (STATS.format("mov-1"), {"start": "1200-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z"}),  # clamped
    (STATS.format("mov-1"), {"start": "2026-01-01t00:00:00z", "end": "2026-01-01T00:10:00Z", "x": "ignored"}),
    (STATS.format("mov-1"), {"start": ["2026-01-01T00:20:00Z", "2026-01-01T00:00:00Z"], "end": "2026-01-01T00:30:00Z"}),
    # malformed: 422 from the FastAPI route
    (STATS.format("mov-1"), {"start": "0.5"}),
    (STATS.format("mov-1"), {"end": "2026-01-01T00:00:00"}),
    (STATS.format("mov-1"), {"start": ""}),
    (STATS.format("mov-1"), {"granularity": "week"}),
    (STATS.format("mov-1"), {"granularity": "MINUTE"}),
    (STATS.format("bad id!"), {}),
    (STATS.format("x" * 65), {}),
    # trending
    ("/v1/trending", {}),
    ("/v1/trending", {"region": "DE", "limit": "3", "at": "2026-01-01T00:30:30Z"}),
    ("/v1/trending", {"region": "GLOBAL", "limit": "50", "at": "2026-01-01T00:07:00+01:00"}),
    ("/v1/trending", {"region": "FR"}),  # no window: 404
    ("/v1/trending", {"region": "DE", "at": "2025-01-01T00:00:00Z"}),  # none that early: 404
    ("/v1/trending", {"region": "de"}),
    ("/v1/trending", {"region": "GLOBALS"}),
    ("/v1/trending", {"limit": "0"}),
    ("/v1/trending", {"limit": "51"}),
    ("/v1/trending", {"limit": "07"}),
    ("/v1/trending", {"limit": " 5"}),
    ("/v1/trending", {"limit": "5.0"}),
    ("/v1/trending", {"limit": "+5"}),
    ("/v1/trending", {"at": "yesterday"}),
]
VOLATILE = {"date", "server"}


def _answer(client: TestClient, method: str, url: str, params: dict, headers: dict) -> tuple:
    response = client.request(method, url, params=params, headers=headers)
    kept = sorted((k, v) for k, v in response.headers.items() if k not in VOLATILE)
    return response.status_code, kept, response.content


@pytest.fixture(scope="module")
def database(stack) -> Iterator[tuple[str, dict[str, str]]]:
    from tests.conftest import _drop, _isolate

    iso: Isolated = _isolate(stack, "lean")
    with psycopg.connect(iso.dsn(), autocommit=True) as conn:
        conn.execute(FILL)
        keys = {scope: create_key(conn, f"lean {scope}", [scope]) for scope in ("read", "acknowledge")}
        keys["revoked"] = create_key(conn, "lean revoked", ["read"])
        revoke_key(conn, keys["revoked"].split("_")[1])
    yield iso, keys
    _drop(stack, iso)


def _clients(iso: Isolated, **update) -> tuple[TestClient, TestClient]:
    settings = iso.settings.model_copy(update={"api_rate_limit": "100000/second", **update})
    return (TestClient(create_app(dsn=iso.dsn(), settings=settings, lean_routes=lean)) for lean in (True, False))


def test_lean_routes_answer_as_the_fastapi_routes(database, monkeypatch):
    iso, keys = database
    served = []  # the requests the lean routes answered themselves (not handed to the FastAPI route)
    for name in ("stats_response", "trending_response"):
        original = getattr(hotpaths, name)

        async def counting(*args, _original=original, **kwargs):  # noqa: ANN002, ANN003, ANN202
            served.append(args[2])
            return await _original(*args, **kwargs)

        monkeypatch.setattr(hotpaths, name, counting)
    # Cache-Control's max-age counts seconds to the next window close: one clock for both apps, or a second
    # that ticks between the two answers shows as a difference (CI saw max-age=34 against 33).
    monkeypatch.setattr(fastjson, "time", SimpleNamespace(time=lambda now=time.time(): now))
    lean_client, fastapi_client = _clients(iso)
    with lean_client as lean, fastapi_client as slow:
        header_sets = [{"X-API-Key": keys["read"]}, {}, {"X-API-Key": "spk_nope_nope"},
                       {"X-API-Key": keys["revoked"]}, {"X-API-Key": keys["acknowledge"]}]  # fmt: skip
        compared = 0
        for url, params in QUERIES:
            for headers in header_sets:
                for method in ("GET", "HEAD", "POST"):
                    want = _answer(slow, method, url, params, headers)
                    got = _answer(lean, method, url, params, headers)
                    assert got == want, (method, url, params, headers)
                    compared += 1
            ok = lean.get(url, params=params, headers=header_sets[0])  # revalidations: its own tag, others
            for tag in (ok.headers.get("etag", '"x"'), '"stale"', "*"):
                headers = {**header_sets[0], "If-None-Match": tag}
                assert _answer(lean, "GET", url, params, headers) == _answer(slow, "GET", url, params, headers)
                compared += 1
    assert compared == len(QUERIES) * (15 + 3)
    valid = len(QUERIES[:11]) + len(QUERIES[18:23])  # 404s included: the lean route answers those too
    assert len(served) == valid * 5, served  # each valid query: 1 GET + 1 + 3 revalidations with the read key
    print(f"{compared} requests compared; the lean routes answered {len(served)} of them themselves")


def test_lean_routes_count_towards_the_same_rate_limit(database):
    iso, keys = database
    lean_client, fastapi_client = _clients(iso, api_rate_limit="3/minute")
    headers = {"X-API-Key": keys["read"]}
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:10:00Z"}
    with lean_client as lean, fastapi_client as slow:
        answers = {}
        for name, client in (("lean", lean), ("fastapi", slow)):
            statuses = [client.get(STATS.format("mov-1"), params=params, headers=headers) for _ in range(3)]
            statuses.append(client.get("/v1/trending", headers=headers))  # the same key's 4th request: 429
            answers[name] = [(r.status_code, r.headers.get("content-type"), "retry-after" in r.headers)
                             for r in statuses]  # fmt: skip
    assert answers["lean"] == answers["fastapi"]
    assert [status for status, _, _ in answers["lean"]] == [200, 200, 200, 429]
