"""Dashboard building blocks without a database: chart specs are valid Vega-Lite, units and colours are right."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from streamlit_app import charts, geo, ui

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def minutes(n: int = 5) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append({
            "window_start": T0 + timedelta(minutes=i), "events": 100 + i, "downloads_started": 10,
            "downloads_completed": 9, "downloads_failed": 1, "streams_started": 40, "streams_ended": 38, "purchases": 2,
            "ttfb_avg_ms": 80.0, "ttfb_p95_ms": 200.0,
        })  # fmt: skip
    return pd.DataFrame(rows)


def cdn(n: int = 3) -> pd.DataFrame:
    rows = []
    for node, region in (("edge-de-fra-1", "DE"), ("edge-us-east-1", "US")):
        for i in range(n):
            rows.append({
                "cdn_node": node, "region": region, "window_start": T0 + timedelta(minutes=i), "requests": 100,
                "errors": 5, "error_rate": 0.05, "ttfb_p50_ms": 50.0, "ttfb_p95_ms": 150.0, "throughput_avg_kbps": 9e4,
            })  # fmt: skip
    return pd.DataFrame(rows)


def anomalies() -> pd.DataFrame:
    return pd.DataFrame([
        {"anomaly_kind": "ERROR_RATE", "subject": "edge-de-fra-1", "region": "DE", "started_at": T0,
         "detected_at": T0 + timedelta(minutes=3), "ended_at": T0 + timedelta(minutes=5), "state": "RESOLVED",
         "peak_value": 0.6, "severity": "CRITICAL", "bad_minutes": 5},
        {"anomaly_kind": "LATENCY", "subject": "edge-jp-tyo-1", "region": "JP", "started_at": T0 + timedelta(minutes=2),
         "detected_at": T0 + timedelta(minutes=5), "ended_at": pd.NaT, "state": "OPEN", "peak_value": 900.0,
         "severity": "MAJOR", "bad_minutes": None},
    ])  # fmt: skip


@pytest.mark.parametrize(
    "build",
    [
        lambda: charts.event_mix_chart(minutes()),
        lambda: charts.ttfb_chart(minutes()),
        lambda: charts.hourly_bars(pd.DataFrame({"hour_start": [T0], "events": [10], "minutes_with_data": [3]})),
        lambda: charts.region_split_chart(
            pd.DataFrame({"region": ["DE"], "events": [5], "purchases": [1], "downloads_failed": [0]})
        ),
        lambda: charts.rank_bump_chart(
            pd.DataFrame(
                {
                    "window_end": [T0, T0],
                    "rank_no": [1, 2],
                    "content_id": ["a", "b"],
                    "title": ["A", "B"],
                    "score": [2.0, 1.0],
                }
            )  # fmt: skip
        ),
        lambda: charts.cdn_heatmap(cdn(), "error_rate"),
        lambda: charts.cdn_heatmap(cdn(), "ttfb_p95_ms"),
        lambda: charts.latency_percentiles(cdn()),
        lambda: charts.anomaly_timeline(anomalies(), pd.Timestamp(T0 + timedelta(minutes=10))),
        lambda: charts.anomaly_impact_chart(
            cdn().assign(phase="during"), pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=2)), "error_rate"
        ),
        lambda: charts.anomaly_impact_chart(
            cdn().assign(phase="before"), pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=2)), "ttfb_p95_ms"
        ),
        lambda: charts.world_map(
            pd.DataFrame(
                {
                    "region": ["DE", "US"],
                    "events_per_min": [10.0, 50.0],
                    "requests": [100, 500],
                    "error_rate": [0.01, 0.2],
                    "open_anomalies": [0, 1],
                }
            )  # fmt: skip
        ),
    ],
)
def test_charts_are_valid_vega_lite_with_utc_time_axes(build) -> None:  # noqa: ANN001
    spec = build().to_dict(validate=True)  # raises on an invalid spec (a blank chart in the browser)
    text = str(spec)
    if "'type': 'temporal'" in text:
        assert "(UTC)" in text  # every time axis says UTC


def test_world_map_ships_its_outline_and_knows_every_region() -> None:
    from generator.domain import REGION_CODES

    topo = geo.world_topojson()
    ids = {g.get("id") for g in topo["objects"]["countries"]["geometries"]}
    assert set(geo.REGION_GEO) == set(REGION_CODES)
    assert {iso for iso, _, _ in geo.REGION_GEO.values()} <= ids


def test_freshness_colours_and_units(monkeypatch) -> None:  # noqa: ANN001
    from streampulse.settings import get_settings

    bound = get_settings().freshness_bound_seconds
    assert ui.freshness_color(30) == "green"
    assert ui.freshness_color(ui.FRESH_S + 1) == "orange"
    assert ui.freshness_color(bound) == "orange"
    assert ui.freshness_color(bound + 1) == "red"
    assert ui.format_seconds(42.4) == "42 s"
    assert ui.format_seconds(3 * 3600 + 125) == "10,925 s (3 h 2 min)"
    assert ui.format_seconds(2 * 86_400 + 3600) == "176,400 s (2 d 1 h)"
    assert ui.freshness_s(T0, now_s=T0.timestamp() + 61.5) == 61.5


def test_freshness_reads_sensibly_ahead_of_and_behind_the_clock() -> None:
    """Data ahead of the wall clock is said to be ahead (never a negative number of seconds behind)."""
    assert ui.freshness_text(42) == ("Freshness: 42 s behind real time", "green")
    assert ui.freshness_text(3 * 86_400) == ("Freshness: 259,200 s (3 d 0 h) behind real time", "red")
    assert ui.freshness_text(-2) == ("Freshness: up to date", "green")  # clocks a second or two apart
    text, colour = ui.freshness_text(-90)
    assert text == "Data is 90 s ahead of real time (event times in the future)" and colour == "orange"
    assert "-" not in ui.freshness_text(-7_200)[0]
    assert ui.freshness_s(None) is None
    assert ui.pct(0.98765) == "98.77 %" and ui.pct(None) == "–"
    assert ui.usd(123456.0) == "$1,234.56"
