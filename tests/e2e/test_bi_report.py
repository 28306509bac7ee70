"""The daily BI report, made by the schedule's Dagster job for the pipeline run's day: every figure it
shows and every CSV extract equals the marts it reads."""

from __future__ import annotations

import io
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from dagster import Definitions

from orchestration import reports
from orchestration.resources import PostgresResource
from tests.e2e.conftest import query

pytestmark = pytest.mark.stack

DAY = date(2026, 1, 1)
PREVIOUS = date(2025, 12, 31)


class _Attrs(HTMLParser):
    """Every start tag's attributes, to find the figures the page marks with data-* attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(dict(attrs))


@pytest.fixture(scope="module")
def report_dir(marts_built, pipeline_run, tmp_path_factory) -> Path:
    """The report job (the one the daily schedule runs) for 2026-01-01, against the pipeline run's marts."""
    out = tmp_path_factory.mktemp("reports")
    defs = Definitions.merge(
        reports.defs, Definitions(resources={"postgres": PostgresResource(database=pipeline_run.isolated.database)})
    )
    job = defs.resolve_job_def("daily_bi_report_job")
    schedule = defs.resolve_schedule_def("daily_bi_report_schedule")
    assert schedule.job_name == job.name
    result = job.execute_in_process(
        partition_key=DAY.isoformat(), run_config={"ops": {"daily_bi_report": {"config": {"reports_dir": str(out)}}}}
    )
    assert result.success
    materialization = result.asset_materializations_for_node("daily_bi_report")[0]
    assert materialization.partition == DAY.isoformat()
    assert (
        materialization.metadata["events"].value
        == query(marts_built, "select events from marts.daily_kpis where day = %s", (DAY,))[0][0]
    )
    return out / DAY.isoformat()


def _mart(dsn: str, sql: str, params: tuple = ()) -> pd.DataFrame:
    import psycopg

    with psycopg.connect(dsn) as conn:
        cur = conn.execute(sql, params)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO((folder / name).read_text()), keep_default_na=True)


def test_report_folder_holds_the_page_and_the_extracts(report_dir):
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == sorted(
        ["report.html", "kpis.csv", "hourly.csv", "top_movers.csv", "regional_trends.csv", "cdn_sla.csv", "revenue.csv"]
    )
    html = (report_dir / "report.html").read_text()
    assert "<script" not in html and html.count("<svg") == 4  # static: four charts, no JavaScript


def test_headline_figures_equal_daily_kpis(report_dir, marts_built):
    kpis = _mart(marts_built, "select * from marts.daily_kpis where day in (%s, %s) order by day", (PREVIOUS, DAY))
    extract = _csv(report_dir, "kpis.csv")
    assert list(extract.columns) == list(kpis.columns)
    assert extract["day"].tolist() == ["2025-12-31", "2026-01-01"]
    for column in kpis.columns[1:]:
        assert extract[column].tolist() == pytest.approx(kpis[column].astype(float).tolist(), nan_ok=True), column
    parser = _Attrs()
    parser.feed((report_dir / "report.html").read_text())
    shown = {t["data-kpi"]: t["data-value"] for t in parser.tags if "data-kpi" in t}
    today = kpis.iloc[1]
    assert len(shown) == 12
    for key, value in shown.items():
        assert float(value) == pytest.approx(float(today[key]), rel=1e-12), key
    html = (report_dir / "report.html").read_text()
    assert f">{int(today['events']):,}<" in html and f">{today['download_success_rate']:.2%}<" in html


def test_top_movers_equal_content_daily(report_dir, marts_built):
    expected = _mart(
        marts_built,
        """
        select content_id, sum(events) filter (where day = '2026-01-01')::bigint as events,
               coalesce(sum(events) filter (where day = '2025-12-31'), 0)::bigint as events_prev_day
        from marts.content_daily group by content_id having sum(events) filter (where day = '2026-01-01') is not null
        """,
    )
    expected["events_change"] = expected["events"] - expected["events_prev_day"]
    expected = expected.sort_values(["events_change", "events", "content_id"], ascending=[False, False, True]).head(10)
    movers = _csv(report_dir, "top_movers.csv")
    assert movers[["content_id", "events", "events_prev_day", "events_change"]].values.tolist() == (
        expected[["content_id", "events", "events_prev_day", "events_change"]].values.tolist()
    )
    html = (report_dir / "report.html").read_text()
    section = html[html.index('id="movers"') : html.index('id="trends"')]
    assert re.findall(r'data-content-id="([^"]+)"', section) == movers["content_id"].tolist()


def test_regional_trends_cdn_and_revenue_equal_their_marts(report_dir, marts_built):
    trends = _mart(
        marts_built, "select region, rank_no, content_id, score from marts.regional_trend_daily where day = %s", (DAY,)
    )
    extract = _csv(report_dir, "regional_trends.csv")
    key = ["region", "rank_no"]
    merged = trends.merge(extract, on=key, suffixes=("", "_report"))
    assert len(merged) == len(trends) == len(extract)
    assert (merged["content_id"] == merged["content_id_report"]).all()
    assert merged["score_report"].tolist() == pytest.approx(merged["score"].tolist(), rel=1e-12)

    sla = _mart(
        marts_built,
        "select cdn_node, requests, errors, incidents, slo_met, mttd_s, mttr_s from marts.cdn_sla_daily where day = %s",
        (DAY,),
    )
    cdn = _csv(report_dir, "cdn_sla.csv").set_index("cdn_node")
    for row in sla.itertuples():
        assert (cdn.loc[row.cdn_node, "requests"], cdn.loc[row.cdn_node, "errors"]) == (row.requests, row.errors)
        assert (cdn.loc[row.cdn_node, "incidents"], bool(cdn.loc[row.cdn_node, "slo_met"])) == (
            row.incidents,
            row.slo_met,
        )
    parser = _Attrs()
    parser.feed((report_dir / "report.html").read_text())
    flagged = {t["data-cdn-node"] for t in parser.tags if "data-cdn-node" in t}
    assert flagged == set(sla.loc[~sla["slo_met"], "cdn_node"]) and len(flagged) == 5

    revenue = _mart(
        marts_built,
        "select region, currency, sum(revenue_minor)::bigint as revenue_minor from marts.revenue_daily"
        " where day = %s group by 1, 2",
        (DAY,),
    )
    shown = {
        (t["data-region"], t["data-currency"]): int(t["data-revenue-minor"])
        for t in parser.tags
        if "data-revenue-minor" in t
    }
    assert shown == {(r.region, r.currency): r.revenue_minor for r in revenue.itertuples()}
    assert (
        len(_csv(report_dir, "revenue.csv"))
        == query(marts_built, "select count(*) from marts.revenue_daily where day = %s", (DAY,))[0][0]
    )


def test_a_day_without_data_gets_a_report_that_says_so(marts_built, pipeline_run, tmp_path):
    defs = Definitions.merge(
        reports.defs, Definitions(resources={"postgres": PostgresResource(database=pipeline_run.isolated.database)})
    )
    result = defs.resolve_job_def("daily_bi_report_job").execute_in_process(
        partition_key="2025-12-01", run_config={"ops": {"daily_bi_report": {"config": {"reports_dir": str(tmp_path)}}}}
    )
    assert result.success
    html = (tmp_path / "2025-12-01" / "report.html").read_text()
    assert "No data for 2025-12-01" in html
    assert _csv(tmp_path / "2025-12-01", "kpis.csv").empty
