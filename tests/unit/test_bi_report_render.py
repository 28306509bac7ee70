"""Report rendering on hand-made figures (no database): formats, comparisons, empty days, atomic files."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd

from reports.data import ReportData
from reports.render import change, fmt, money, render_html, write_report

DAY = date(2026, 1, 2)
KPI_COLUMNS = [
    "day", "events", "downloads_started", "downloads_completed", "downloads_failed", "download_success_rate",
    "streams_started", "purchases", "list_value_usd_cents", "user_minutes", "active_items", "active_regions",
    "cdn_requests", "cdn_errors", "cdn_availability", "cdn_nodes_missing_slo", "cdn_anomalies", "mttd_s", "mttr_s",
    "late_events",
]  # fmt: skip


def _kpis(day: date, events: int, success: float, anomalies: int, mttd: float | None) -> dict:
    return dict.fromkeys(KPI_COLUMNS, 0) | {
        "day": day, "events": events, "download_success_rate": success, "cdn_availability": 0.99,
        "cdn_anomalies": anomalies, "mttd_s": mttd, "mttr_s": mttd, "list_value_usd_cents": 123456,
    }  # fmt: skip


def _data(day: date = DAY, with_previous: bool = True) -> ReportData:
    kpis = [_kpis(DAY, 1500, 0.95, 2, 180.0)]
    if with_previous:
        kpis.insert(0, _kpis(date(2026, 1, 1), 1000, 0.96, 0, None))
    return ReportData(
        day=day,
        kpis=pd.DataFrame(kpis, columns=KPI_COLUMNS),
        hourly=pd.DataFrame(
            {
                "hour_start": [datetime(2026, 1, 2, h, tzinfo=timezone.utc) for h in (9, 10)],
                "content_type": ["MOVIE", "APP"],
                "events": [900, 600],
                "purchases": [3, 4],
                "downloads_completed": [5, 6],
                "downloads_failed": [0, 1],
            }
        ),  # fmt: skip
        top_movers=pd.DataFrame(
            {
                "content_id": ["mov-1", "app-2"],
                "title": ["Up <script>", None],
                "content_type": ["MOVIE", "APP"],
                "events": [800, 300],
                "events_prev_day": [100, 0],
                "events_change": [700, 300],
            }
        ),  # fmt: skip
        regional_trends=pd.DataFrame(
            {
                "region": ["GLOBAL", "GLOBAL", "DE"],
                "rank_no": [1, 2, 1],
                "content_id": ["mov-1", "app-2", "mov-1"],
                "title": ["Up", "App", "Up"],
                "content_type": ["MOVIE", "APP", "MOVIE"],
                "score": [9.0, 5.0, 3.0],
                "windows_trending": [4, 2, 1],
                "prev_rank_no": [3, None, 1],
                "rank_change": [2, None, 0],
            }
        ),  # fmt: skip
        cdn_sla=pd.DataFrame(
            {
                "cdn_node": ["edge-a", "edge-b"],
                "region": ["DE", "DE"],
                "requests": [100, 100],
                "errors": [20, 1],
                "availability": [0.8, 0.99],
                "availability_objective": [0.98, 0.98],
                "ttfb_p95_ms": [120.0, 110.0],
                "ttfb_p95_objective_ms": [250.0, 250.0],
                "slo_met": [False, True],
                "incidents": [1, 0],
                "open_incidents": [0, 0],
                "mttd_s": [180.0, None],
                "mttr_s": [300.0, None],
                "regional_outages": [0, 0],
            }
        ),  # fmt: skip
        revenue=pd.DataFrame(
            {
                "region": ["JP", "DE", "DE"],
                "currency": ["JPY", "EUR", "EUR"],
                "content_type": ["APP", "APP", "MOVIE"],
                "purchases": [2, 1, 1],
                "revenue_minor": [1200, 299, 1499],
                "items_purchased": [1, 1, 1],
            }
        ),  # fmt: skip
    )


def test_money_uses_the_currency_minor_unit():
    assert money(129900, "JPY") == "129,900 JPY"
    assert money(12345, "EUR") == "123.45 EUR"
    assert money(5, "KRW") == "5 KRW"


def test_changes_are_points_for_rates_and_per_cent_otherwise():
    assert change(0.95, 0.96, "rate") == "-1.00 pt"
    assert change(1500, 1000, "int") == "+50.0%"
    assert change(3, 0, "int") == "new" and change(0, 0, "int") == "±0"
    assert change(180.0, None, "seconds") == ""
    assert fmt(None, "int") == "—" and fmt(float("nan"), "rate") == "—" and fmt(123456, "usd_cents") == "$1,234.56"


def test_page_shows_the_figures_against_the_previous_day():
    html = render_html(_data(), generated_at=datetime(2026, 1, 3, 0, 30, tzinfo=timezone.utc))
    assert "<script>" not in html and "Up &lt;script&gt;" in html  # titles are escaped
    assert html.count("<svg") == 4
    assert 'data-kpi="events" data-value="1500"' in html and ">1,500<" in html and "+50.0%" in html
    assert "-1.00 pt" in html  # success rate 95% vs 96%
    assert "▲2" in html and 'pill good">new' in html and ">=<" in html  # rank up, new entry, unchanged
    assert 'data-cdn-node="edge-a"' in html and 'data-cdn-node="edge-b"' not in html  # only SLO misses listed
    assert "1 of 2 edge nodes met both objectives" in html
    # Revenue per region and currency: DE's two content types add up in EUR; yen has no minor unit.
    assert 'data-currency="EUR" data-revenue-minor="1798"' in html and "17.98 EUR" in html and "1,200 JPY" in html
    assert "generated 2026-01-03 00:30 UTC" in html and "data 09:00–10:59 UTC (2 hours with events)" in html


def test_first_day_has_no_comparison_and_an_empty_day_says_so():
    assert "no previous day" in render_html(_data(with_previous=False))
    empty = _data(day=date(2025, 6, 1))
    assert empty.empty and "No data for 2025-06-01" in render_html(empty)


def test_write_report_leaves_only_the_finished_files(tmp_path):
    files = write_report(_data(), tmp_path)
    folder = tmp_path / "2026-01-02"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in files)
    assert {f.name for f in files} == {
        "report.html", "kpis.csv", "hourly.csv", "top_movers.csv", "regional_trends.csv", "cdn_sla.csv", "revenue.csv"
    }  # fmt: skip
    assert pd.read_csv(folder / "kpis.csv")["events"].tolist() == [1000, 1500]
