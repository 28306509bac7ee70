"""An anomaly's drill-down (`GET /v1/anomalies/{id}/impact`) over the seeded pipeline run: every figure equals
an independent computation over the events read back from Kafka (`pipeline_run.on_time`), exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.keys import create_key
from api.main import create_app
from tests.e2e.conftest import PipelineRun, query
from tests.e2e.expected import REQUESTS, ts
from tests.e2e.helpers import T0, ms

pytestmark = pytest.mark.stack
CONTEXT = 4  # minutes before and after


@pytest.fixture(scope="module")
def client(pipeline_run: PipelineRun) -> Iterator[tuple[TestClient, dict]]:
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        key = create_key(conn, "e2e impact", ["read"])
    settings = pipeline_run.isolated.settings.model_copy(update={"api_rate_limit": "100000/second"})
    with TestClient(create_app(dsn=pipeline_run.dsn, settings=settings)) as c:
        yield c, {"X-API-Key": key}


def _anomaly(run: PipelineRun, kind: str, subject: str) -> tuple[str, datetime, datetime]:
    (started, ended), *_ = query(
        run.dsn, "select started_at, ended_at from realtime.cdn_anomalies where anomaly_kind = %s and subject = %s",
        (kind, subject),
    )  # fmt: skip
    return f"{kind}:{subject}:{started:%Y%m%dT%H%M%SZ}", started, ended


def _figures(req: pd.DataFrame, start: datetime, end: datetime) -> dict:
    """One phase from the events: counts directly; p95 per node-minute with linear interpolation (Flink's
    PERCENTILE), then the worst; the mean of the node-minutes' average throughput (zero = no transfer)."""
    span = req[(req["minute_ms"] >= ms(start)) & (req["minute_ms"] < ms(end))]
    per_minute = span.groupby(["cdn_node", "minute_ms"])
    kbps = per_minute["throughput_kbps"].apply(lambda s: s[s != 0].astype(float).mean()).dropna()
    requests, errors = len(span), int(span["error_code"].notna().sum())
    return {
        "start": start, "end": end, "minutes": per_minute.ngroups, "requests": requests, "errors": errors,
        "error_rate": errors / requests if requests else None,
        "worst_ttfb_p95_ms": float(per_minute["ttfb_ms"].apply(lambda s: s.astype(float).quantile(0.95)).max())
        if requests else None,
        "mean_throughput_kbps": float(kbps.mean()) if len(kbps) else None,
    }  # fmt: skip


def _check(got: dict, want: dict) -> None:
    assert datetime.fromisoformat(got["start"]) == want["start"] and datetime.fromisoformat(got["end"]) == want["end"]
    assert (got["minutes"], got["requests"], got["errors"]) == (want["minutes"], want["requests"], want["errors"])
    for name in ("error_rate", "worst_ttfb_p95_ms", "mean_throughput_kbps"):
        assert got[name] == (None if want[name] is None else pytest.approx(want[name], rel=1e-12)), name


@pytest.mark.parametrize(
    ("kind", "subject", "region", "nodes", "label_start"),
    [
        ("ERROR_RATE", "edge-de-fra-1", "DE", ["edge-de-fra-1"], 180),
        ("REGIONAL_OUTAGE", "BR", "BR", ["edge-br-sao-1", "edge-br-sao-2"], 420),
    ],
)
def test_impact_equals_the_events_before_during_and_after(client, pipeline_run, kind, subject, region, nodes,
                                                          label_start):  # fmt: skip
    c, key = client
    anomaly_id, started, ended = _anomaly(pipeline_run, kind, subject)
    assert started == T0 + timedelta(seconds=label_start)  # the injected incident, as labelled
    response = c.get(f"/v1/anomalies/{anomaly_id}/impact", params={"context_minutes": CONTEXT, "titles": 5},
                     headers=key)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["anomaly"]["id"] == anomaly_id and body["anomaly"]["state"] == "RESOLVED"
    assert datetime.fromisoformat(body["during"]["start"]) == started
    assert datetime.fromisoformat(body["during"]["end"]) == ended

    events = pipeline_run.on_time
    req = events[events["event_type"].isin(REQUESTS) & events["cdn_node"].isin(nodes)]
    context = timedelta(minutes=CONTEXT)
    spans = {"before": (started - context, started), "during": (started, ended), "after": (ended, ended + context)}
    assert [p["phase"] for p in body["node_figures"]] == list(spans)
    for got in body["node_figures"]:
        _check(got, _figures(req, *spans[got["phase"]]))
    # The outage shows: the node's error rate during is many times the rate either side.
    rate = {p["phase"]: p["error_rate"] for p in body["node_figures"]}
    assert rate["during"] > 0.3 and rate["before"] < 0.05 and rate["after"] < 0.05

    # Every node-minute of the three spans, with its phase.
    shown = req[(req["minute_ms"] >= ms(started - context)) & (req["minute_ms"] < ms(ended + context))]
    want_minutes = shown.groupby(["minute_ms", "cdn_node"]).agg(requests=("event_id", "size"),
                                                                errors=("error_code", "count"))  # fmt: skip
    got_minutes = {(datetime.fromisoformat(m["window_start"]), m["cdn_node"]): (m["requests"], m["errors"], m["phase"])
                   for m in body["minutes"]}  # fmt: skip

    def phase(minute: datetime) -> str:
        return next(name for name, (a, b) in spans.items() if a <= minute < b)

    assert got_minutes == {(ts(int(m)), n): (int(r.requests), int(r.errors), phase(ts(int(m))))
                           for (m, n), r in want_minutes.iterrows()}  # fmt: skip

    # The region: its nodes' requests during, and every title's events there during the anomaly.
    in_region = events[(events["region"] == region) & (events["minute_ms"] >= ms(started))
                       & (events["minute_ms"] < ms(ended))]  # fmt: skip
    (hit,) = body["regions"]
    during = _figures(req, started, ended)
    assert (hit["region"], hit["nodes"], hit["requests"], hit["errors"]) == (
        region, nodes, during["requests"], during["errors"])  # fmt: skip
    assert (hit["titles"], hit["events"], hit["downloads_failed"]) == (
        in_region["content_id"].nunique(),
        len(in_region),
        int((in_region["event_type"] == "DOWNLOAD_FAILED").sum()),
    )

    # The titles: most failed downloads first, then most events, then id; names from the catalog.
    t = in_region["event_type"]
    per_title = pd.DataFrame({
        "content_id": in_region["content_id"], "events": 1, "ds": t == "DOWNLOAD_STARTED",
        "dc": t == "DOWNLOAD_COMPLETED", "df": t == "DOWNLOAD_FAILED", "ss": t == "STREAM_STARTED",
    }).groupby("content_id").sum()  # fmt: skip
    top = per_title.reset_index().sort_values(["df", "events", "content_id"], ascending=[False, False, True]).head(5)
    names = dict(query(pipeline_run.dsn, "select content_id, title from catalog.content where content_id = any(%s)",
                       (top["content_id"].tolist(),)))  # fmt: skip
    assert [(x["content_id"], x["title"], x["events"], x["downloads_started"], x["downloads_completed"],
             x["downloads_failed"], x["streams_started"]) for x in body["titles"]] == [
        (r.content_id, names[r.content_id], r.events, r.ds, r.dc, r.df, r.ss) for r in top.itertuples()
    ]  # fmt: skip
    assert body["titles"][0]["downloads_failed"] > 0


def test_impact_errors_are_documented_problems(client, pipeline_run):
    c, key = client
    anomaly_id, _, _ = _anomaly(pipeline_run, "ERROR_RATE", "edge-de-fra-1")
    missing = c.get("/v1/anomalies/ERROR_RATE:edge-zz-nowhere-1:20260101T000300Z/impact", headers=key)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    too_wide = c.get(f"/v1/anomalies/{anomaly_id}/impact", params={"context_minutes": 121}, headers=key)
    assert too_wide.status_code == 422 and too_wide.json()["errors"][0]["field"] == "context_minutes"
    assert c.get(f"/v1/anomalies/{anomaly_id}/impact").status_code == 401
    spec = c.get("/openapi.json").json()["paths"]["/v1/anomalies/{anomaly_id}/impact"]["get"]
    assert set(spec["responses"]) == {"200", "401", "403", "404", "422", "429", "503"}
    params = {p["name"]: p["schema"] for p in spec["parameters"]}
    assert (params["context_minutes"]["minimum"], params["context_minutes"]["maximum"]) == (1, 120)
