"""The REST API over the real pipeline's tables: every answer equals the independent computation over
the events in Kafka (`pipeline_run.on_time`) or direct SQL over the real-time tables, exactly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.keys import create_key, revoke_key
from api.main import create_app
from streampulse.settings import Settings
from tests.e2e import expected
from tests.e2e.conftest import PipelineRun, query
from tests.e2e.helpers import T0, ms

pytestmark = pytest.mark.stack
START = T0 - timedelta(minutes=5)  # a few out-of-order events lie just before T0
END = T0 + timedelta(minutes=16)


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    ack: dict[str, str]
    run: PipelineRun

    def get(self, url: str, **params) -> dict:
        response = self.client.get(url, params=params, headers=self.read)
        assert response.status_code == 200, response.text
        return response.json()


def _iso(value: datetime) -> str:
    return value.isoformat()


def z(value: datetime) -> str:
    """How the API writes UTC instants."""
    return value.isoformat().replace("+00:00", "Z")


def app_settings(run: PipelineRun, **update) -> Settings:
    return run.isolated.settings.model_copy(update={"api_rate_limit": "100000/second", **update})


@pytest.fixture(scope="module")
def api(pipeline_run: PipelineRun, tmp_path_factory) -> Iterator[Api]:
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        conn.execute("delete from api.anomaly_acks")  # keep-mode reuses the database
        read = create_key(conn, "e2e read", ["read"])
        ack = create_key(conn, "e2e ack", ["read", "acknowledge"])
    settings = app_settings(pipeline_run, reports_dir=tmp_path_factory.mktemp("reports"))
    with TestClient(create_app(dsn=pipeline_run.dsn, settings=settings)) as client:
        yield Api(client, {"X-API-Key": read}, {"X-API-Key": ack}, pipeline_run)


def _busiest(on_time, n: int) -> list[str]:
    return (
        on_time["content_id"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index[:n].tolist()
    )


# ----- content ---------------------------------------------------------------------------------------------


def test_content_minutes_equal_the_independent_computation(api):
    on_time = api.run.on_time
    items = _busiest(on_time, 5) + [sorted(on_time["content_id"].unique())[0]]
    want = expected.content_minute_stats(on_time[on_time["content_id"].isin(items)])  # only what is compared
    for content in items:
        body = api.get(f"/v1/content/{content}/stats", start=_iso(START), end=_iso(END))
        got = {
            datetime.fromisoformat(p["window_start"]): (
                p["events"], p["downloads_started"], p["downloads_completed"], p["downloads_failed"],
                p["streams_started"], p["streams_ended"], p["purchases"], p["bytes_sent"], p["distinct_users"],
                p["ttfb_p95_ms"],
            )
            for p in body["points"]
        }  # fmt: skip
        expect = {start: v[:9] + (v[10],) for (c, start), v in want.items() if c == content}
        assert got.keys() == expect.keys() and len(got) > 0
        for start in got:
            assert got[start][:9] == expect[start][:9]
            assert got[start][9] == (None if expect[start][9] is None else pytest.approx(expect[start][9], rel=1e-12))
        assert all(p["window_start"].endswith("Z") for p in body["points"])


@pytest.mark.parametrize("granularity", ["hour", "day"])
def test_hour_and_day_buckets_sum_the_events_of_that_utc_bucket(api, granularity):
    on_time = api.run.on_time
    content = _busiest(on_time, 1)[0]
    g = on_time[on_time["content_id"] == content]
    body = api.get(
        f"/v1/content/{content}/stats",
        granularity=granularity,
        start="2025-12-31T00:00:00Z",
        end="2026-01-02T00:00:00Z",
    )
    step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
    unit = 3_600_000 if granularity == "hour" else 86_400_000
    want = {}
    for bucket, b in g.groupby(g["event_ms"] // unit * unit):
        t = b["event_type"]
        want[z(expected.ts(int(bucket)))] = (len(b), int((t == "PURCHASE").sum()), int(b["bytes_sent"].sum()))
    got = {p["window_start"]: (p["events"], p["purchases"], p["bytes_sent"]) for p in body["points"]}
    assert got == want and z(T0) in got
    assert all(
        datetime.fromisoformat(p["window_end"]) - datetime.fromisoformat(p["window_start"]) == step
        and p["distinct_users"] is None
        for p in body["points"]
    )


def test_range_given_with_another_offset_selects_the_same_instants(api):
    content = _busiest(api.run.on_time, 1)[0]
    utc = api.get(f"/v1/content/{content}/stats", start="2026-01-01T00:03:00Z", end="2026-01-01T00:07:00Z")
    pacific = api.get(
        f"/v1/content/{content}/stats", start="2025-12-31T16:03:00-08:00", end="2025-12-31T16:07:00-08:00"
    )
    assert utc["points"] == pacific["points"] and len(utc["points"]) == 4
    assert pacific["start"] == "2026-01-01T00:03:00Z"


def test_unknown_content_is_404_bad_values_422_and_ranges_as_the_schema_says(api):
    response = api.client.get("/v1/content/zzz-999999/stats", headers=api.read)
    assert response.status_code == 404 and "content_id" in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"
    for params, field in (
        ({"start": "2026-01-01T00:00:00"}, "start"),  # no offset
        ({"end": "0.5"}, "end"),  # not a Unix time: the schema says date-time
        ({"granularity": "week"}, "granularity"),
    ):
        response = api.client.get("/v1/content/mov-000001/stats", params=params, headers=api.read)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["field"] == field
    # What no schema can state across two parameters is not an error: a reversed range is empty, a longer
    # one is answered up to start + 7 days (minutes), and `end` says so.
    content = api.run.on_time["content_id"].value_counts().idxmax()
    reversed_ = api.get(f"/v1/content/{content}/stats", start=z(END), end=z(START))
    assert reversed_["points"] == [] and reversed_["end"] == z(START)
    long = api.get(f"/v1/content/{content}/stats", start=z(START), end="2026-02-01T00:00:00Z")
    assert long["end"] == z(START + timedelta(days=7))
    assert long["points"] == api.get(f"/v1/content/{content}/stats", start=z(START), end=z(END))["points"]


# ----- trending, regions, CDN -------------------------------------------------------------------------------


def test_trending_equals_the_independent_top_n(api):
    want = expected.trending(api.run.on_time, ms(END))
    for scope, at in (
        ("GLOBAL", T0 + timedelta(minutes=9, seconds=30)),
        ("DE", END),
        ("BR", T0 + timedelta(minutes=12)),
    ):
        window_end = at.replace(second=0)
        body = api.get("/v1/trending", region=scope, at=_iso(at), limit=10)
        assert body["window_end"] == z(window_end)
        assert body["window_start"] == z(window_end - timedelta(minutes=5))
        got = [
            (i["rank"], i["content_id"], i["events"], i["recent_events"], i["earlier_events"]) for i in body["items"]
        ]
        expect = [(rank, *v[:4]) for (s, end, rank), v in sorted(want.items()) if s == scope and end == window_end]
        assert got == expect and got
        assert [i["score"] for i in body["items"]] == pytest.approx([v[4] for (s, e, _), v in sorted(want.items())
                                                                      if s == scope and e == window_end])  # fmt: skip
    top3 = api.get("/v1/trending", limit=3)
    assert [i["rank"] for i in top3["items"]] == [1, 2, 3] and top3["window_end"] == "2026-01-01T00:16:00Z"
    titles = dict(query(api.run.dsn, "select content_id, title from catalog.content"))
    assert all(i["title"] == titles.get(i["content_id"]) for i in top3["items"])
    assert api.client.get("/v1/trending", params={"region": "XX"}, headers=api.read).status_code == 404
    assert api.client.get("/v1/trending", params={"region": "global"}, headers=api.read).status_code == 422


def test_regions_overview_equals_the_independent_computation(api):
    on_time = api.run.on_time
    window = on_time[(on_time["event_ms"] >= ms(T0 + timedelta(minutes=2))) & (on_time["event_ms"] < ms(END))]
    body = api.get("/v1/regions", start=_iso(T0 + timedelta(minutes=2)), end=_iso(END))
    nodes = expected.cdn_node_minutes(window)
    got = {r["region"]: r for r in body["regions"]}
    assert sorted(got) == sorted(window["region"].unique())
    for region, g in window.groupby("region"):
        r, t = got[region], g["event_type"]
        assert (r["events"], r["purchases"], r["downloads_failed"], r["streams_started"], r["revenue_minor"],
                r["active_content"]) == (len(g), int((t == "PURCHASE").sum()), int((t == "DOWNLOAD_FAILED").sum()),
                int((t == "STREAM_STARTED").sum()), int(g["price_minor"].sum()), g["content_id"].nunique())  # fmt: skip
        n = nodes[nodes["region"] == region]
        assert (r["cdn_requests"], r["cdn_errors"]) == (int(n["requests"].sum()), int(n["errors"].sum()))
        assert r["open_anomalies"] == 0  # every incident of the run resolved


def test_cdn_node_health_equals_the_independent_computation(api):
    want = expected.cdn_node_minutes(api.run.on_time)
    node = want[want["subject"] == "edge-de-fra-1"].sort_values("minute_ms")
    body = api.get("/v1/cdn/nodes/edge-de-fra-1/health", start=_iso(START), end=_iso(END))
    assert body["region"] == "DE"
    got = [(m["window_start"], m["requests"], m["errors"]) for m in body["minutes"]]
    assert got == [(z(expected.ts(int(w))), int(q), int(e))
                   for w, q, e in zip(node["minute_ms"], node["requests"], node["errors"], strict=True)]  # fmt: skip
    assert [m["error_rate"] for m in body["minutes"]] == pytest.approx(node["error_rate"].tolist(), rel=1e-12)
    assert max(m["error_rate"] for m in body["minutes"]) > 0.5  # the injected outage is visible
    summary = {n["cdn_node"]: n for n in api.get("/v1/cdn/nodes", start=_iso(START), end=_iso(END))["nodes"]}
    assert sorted(summary) == sorted(want["subject"].unique())
    assert summary["edge-de-fra-1"]["requests"] == int(node["requests"].sum())
    missing = api.client.get("/v1/cdn/nodes/edge-xx-nowhere-1/health", headers=api.read)
    assert missing.status_code == 404 and "cdn_node" in missing.json()["detail"]


# ----- anomalies and acknowledgements -----------------------------------------------------------------------


def _all_pages(api: Api, **params) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        body = api.get("/v1/anomalies", limit=2, **params, **({"cursor": cursor} if cursor else {}))
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return items
        assert pages < 50


def test_anomalies_pages_and_filters_equal_the_view(api):
    rows = query(
        api.run.dsn, "select anomaly_kind, subject, region, severity, state, started_at from realtime.cdn_anomalies"
    )
    assert len(rows) >= 4
    items = _all_pages(api)
    want = sorted(rows, key=lambda r: (r[5], r[0], r[1]), reverse=True)
    got = [(a["anomaly_kind"], a["subject"], a["region"], a["severity"], a["state"],
            datetime.fromisoformat(a["started_at"])) for a in items]  # fmt: skip
    assert got == want
    assert [a["subject"] for a in _all_pages(api, node="edge-de-fra-1")] == [
        r[1] for r in want if r[1] == "edge-de-fra-1"
    ]
    assert len(_all_pages(api, region="BR")) == sum(1 for r in rows if r[2] == "BR") >= 2
    assert len(_all_pages(api, severity="CRITICAL")) == sum(1 for r in rows if r[3] == "CRITICAL")
    assert _all_pages(api, state="OPEN") == [] and len(_all_pages(api, state="RESOLVED")) == len(rows)
    bad = api.client.get("/v1/anomalies", params={"cursor": "not-a-cursor"}, headers=api.read)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    assert api.client.get("/v1/anomalies", params={"severity": "HUGE"}, headers=api.read).status_code == 422


def test_acknowledge_needs_the_scope_and_writes_only_the_api_table(api):
    first = api.get("/v1/anomalies", node="edge-de-fra-1")["items"][0]
    url = f"/v1/anomalies/{first['id']}/acknowledge"
    before = query(api.run.dsn, "select * from realtime.cdn_alerts order by 1, 2, 3")
    assert api.client.post(url, headers=api.read).status_code == 403
    response = api.client.post(url, json={"note": "failing over"}, headers=api.ack)
    assert response.status_code == 200, response.text
    ack = response.json()["acknowledgement"]
    assert ack["note"] == "failing over" and ack["acknowledged_by"] == api.ack["X-API-Key"].split("_")[1]
    again = api.client.post(url, json={"note": "second"}, headers=api.ack).json()["acknowledgement"]
    assert again == ack  # idempotent: the first acknowledgement stays
    assert api.get(f"/v1/anomalies/{first['id']}")["acknowledgement"] == ack
    assert [a["id"] for a in _all_pages(api, acknowledged="true")] == [first["id"]]
    assert query(api.run.dsn, "select * from realtime.cdn_alerts order by 1, 2, 3") == before
    unknown = "ERROR_RATE:edge-de-fra-1:20250101T000000Z"
    assert api.client.post(f"/v1/anomalies/{unknown}/acknowledge", headers=api.ack).status_code == 404
    assert api.client.get(f"/v1/anomalies/{unknown}", headers=api.read).status_code == 404
    assert api.client.get("/v1/anomalies/nonsense", headers=api.read).status_code == 422


# ----- catalog, marts, reports -------------------------------------------------------------------------------


def test_catalog_search_pages_through_exactly_the_matching_titles(api):
    want = [r[0] for r in query(api.run.dsn, "select content_id from catalog.content where title ilike '%%harbor%%'"
                                             " order by title, content_id")]  # fmt: skip
    assert len(want) > 3
    got, cursor = [], None
    while True:
        body = api.get("/v1/catalog", q="HARBOR", limit=3, **({"cursor": cursor} if cursor else {}))
        got += [i["content_id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert got == want
    assert api.get("/v1/catalog", q="100%_")["items"] == []  # wildcards are literal
    assert api.get(f"/v1/catalog/{want[0]}")["content_id"] == want[0]
    assert api.client.get("/v1/catalog/nope-1", headers=api.read).status_code == 404


def test_marts_answer_503_until_dbt_built_them(isolated):
    """A fresh database with the platform's tables but no marts yet."""
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        key = {"X-API-Key": create_key(conn, "marts", ["read"])}
    with TestClient(create_app(dsn=isolated.dsn(), settings=isolated.settings)) as client:
        response = client.get("/v1/marts/daily-kpis", headers=key)
        assert response.status_code == 503 and "not built yet" in response.json()["detail"]
        assert response.headers["Retry-After"] == "60"
        assert client.get("/v1/marts/no-such-mart", headers=key).status_code == 404


def test_reports_list_download_and_no_traversal(api, tmp_path):
    root = api.client.app.state.settings.reports_dir
    (root / "2026-01-01").mkdir(exist_ok=True)
    (root / "2026-01-01" / "report.html").write_text("<h1>1 Jan</h1>")
    (root / "2026-01-01" / "top.csv").write_text("content_id,events\nmov-1,3\n")
    (root / "2026-01-02").mkdir(exist_ok=True)
    (root / "2026-01-02" / "report.html").write_text("<h1>2 Jan</h1>")
    secret = tmp_path / "secret.csv"
    secret.write_text("nope")
    (root / "2026-01-02" / "leak.csv").symlink_to(secret)
    body = api.get("/v1/reports", limit=1)
    assert [r["day"] for r in body["items"]] == ["2026-01-02"]
    assert [f["name"] for f in body["items"][0]["files"]] == ["report.html"]  # the symlink is not listed
    second = api.get("/v1/reports", limit=1, cursor=body["next_cursor"])
    assert [f["name"] for f in second["items"][0]["files"]] == ["report.html", "top.csv"]
    response = api.client.get("/v1/reports/2026-01-01/top.csv", headers=api.read)
    assert response.status_code == 200 and response.text.startswith("content_id,events")
    assert response.headers["content-type"].startswith("text/csv")
    assert api.client.get("/v1/reports/2026-01-02/leak.csv", headers=api.read).status_code == 404
    for path in ("/v1/reports/2026-01-01/..%2F..%2Fsecret.csv", "/v1/reports/..%2F2026-01-01/report.html",
                 "/v1/reports/2026-01-01/.hidden.csv", "/v1/reports/2026-01-01/report.sh"):  # fmt: skip
        assert api.client.get(path, headers=api.read).status_code in (404, 422), path
    assert api.client.get("/v1/reports/2026-01-01/report.html").status_code == 401


# ----- security ----------------------------------------------------------------------------------------------


def test_auth_no_key_bad_key_revoked_key_wrong_scope(api):
    url = "/v1/trending"
    assert api.client.get(url).status_code == 401
    assert api.client.get(url, headers={"X-API-Key": "sp_nothere_xxxxxxxx"}).status_code == 401
    key = api.read["X-API-Key"]
    assert api.client.get(url, headers={"X-API-Key": key[:-2] + "zz"}).status_code == 401  # right id, wrong secret
    with psycopg.connect(api.run.dsn, autocommit=True) as conn:
        doomed = create_key(conn, "to revoke", ["read"])
        ack_only = create_key(conn, "ack only", ["acknowledge"])
        assert api.client.get(url, headers={"X-API-Key": doomed}).status_code == 200
        assert revoke_key(conn, doomed.split("_")[1])
    time.sleep(api.client.app.state.settings.api_key_cache_seconds + 0.2)  # valid keys are cached that long
    revoked = api.client.get(url, headers={"X-API-Key": doomed})
    assert revoked.status_code == 401 and revoked.headers["content-type"] == "application/problem+json"
    forbidden = api.client.get(url, headers={"X-API-Key": ack_only})
    assert forbidden.status_code == 403 and "'read' scope" in forbidden.json()["detail"]
    assert api.client.get("/health").status_code == 200 and api.client.get("/ready").json()["database"] == "ok"


def test_rate_limit_per_key_answers_429_with_retry_after(pipeline_run):
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        first, second = create_key(conn, "limited 1", ["read"]), create_key(conn, "limited 2", ["read"])
    app = create_app(dsn=pipeline_run.dsn, settings=app_settings(pipeline_run, api_rate_limit="3/minute"))
    with TestClient(app) as client:
        codes = [client.get("/v1/trending", headers={"X-API-Key": first}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/v1/trending", headers={"X-API-Key": first})
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert client.get("/v1/trending", headers={"X-API-Key": second}).status_code == 200  # per key


def test_reads_run_as_the_read_only_role(api):
    async def probe() -> tuple:
        async with api.client.app.state.reader.connection() as conn:
            user = await (await conn.execute("select current_user, current_setting('TimeZone')")).fetchone()
            try:
                await conn.execute("insert into api.anomaly_acks (anomaly_kind, subject, started_at, acknowledged_by)"
                                   " values ('X', 'y', now(), 'z')")  # fmt: skip
            except psycopg.errors.ReadOnlySqlTransaction:
                return (*user, "read-only")
            return (*user, "wrote")

    assert api.client.portal.call(probe) == ("streampulse_api_reader", "UTC", "read-only")


def test_cors_is_closed_by_default_and_opens_for_configured_origins(pipeline_run):
    preflight = {"Origin": "https://portal.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "X-API-Key"}  # fmt: skip
    with TestClient(create_app(dsn=pipeline_run.dsn, settings=app_settings(pipeline_run))) as client:
        response = client.options("/v1/trending", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    settings = app_settings(pipeline_run, api_cors_origins=["https://portal.example"])
    with TestClient(create_app(dsn=pipeline_run.dsn, settings=settings)) as client:
        response = client.options("/v1/trending", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://portal.example"
        other = client.options("/v1/trending", headers=preflight | {"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_openapi_documents_every_endpoint(api):
    spec = api.client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            assert op.get("summary") and op.get("description"), (method, path)
            if path.startswith("/v1/"):
                assert {"401", "422"} <= set(op["responses"]), (method, path)
                assert op.get("security") == [{"APIKeyHeader": []}], (method, path)
    assert api.client.get("/docs").status_code == 200
