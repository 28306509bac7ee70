"""Every dashboard page (Streamlit AppTest) against the real PostgreSQL filled by the real pipeline.

The figures on the pages are compared with an independent pandas computation over the events the job
read from Kafka (`pipeline_run.on_time`), so a wrong query, window or unit shows up as a failure.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from flink_jobs.rest import FlinkRest
from streamlit_app.data import USD_CENTS_PER_MINOR
from streampulse.settings import REPO_ROOT, get_settings
from tests.e2e.conftest import LATE_EVENTS, PipelineRun, query
from tests.e2e.expected import MINUTE, REQUESTS, trending

pytestmark = pytest.mark.stack

APP = str(REPO_ROOT / "streamlit_app" / "streamlit_app.py")


def open_page(name: str) -> AppTest:
    """Run the app as Streamlit would and navigate to a page; no page may raise."""
    at = AppTest.from_file(APP, default_timeout=90).run()
    if name != "overview":
        at.switch_page(f"views/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def query_rw(dsn: str, sql: str, params: tuple) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql, params)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def dashboard(pipeline_run: PipelineRun, tmp_path_factory) -> Iterator[PipelineRun]:  # noqa: ANN001
    """The app pointed at the pipeline run's database and topic (as `DATABASE_URL` would in production)."""
    state = tmp_path_factory.mktemp("dashboard-state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", pipeline_run.dsn)
        mp.setenv("STREAMPULSE_EVENTS_TOPIC", pipeline_run.isolated.topic)
        mp.setenv("STREAMPULSE_REPORTS_DIR", str(state / "reports"))
        get_settings.cache_clear()
        yield pipeline_run
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def events(dashboard: PipelineRun) -> pd.DataFrame:
    return dashboard.on_time


def newest_minute(events: pd.DataFrame) -> int:
    return int(events["minute_ms"].max())


def test_overview_shows_the_newest_minute(dashboard: PipelineRun, events: pd.DataFrame) -> None:
    at = open_page("overview")
    shown = metrics(at)
    m = newest_minute(events)
    now, before = events[events["minute_ms"] == m], events[events["minute_ms"] == m - MINUTE]
    assert shown["Events/s (newest minute)"] == f"{len(now) / 60:,.1f} events/s"
    assert at.metric[0].delta == f"{len(now) / 60 - len(before) / 60:+,.1f} events/s"
    requests = now[now["event_type"].isin(REQUESTS)]
    success = 1 - requests["error_code"].notna().sum() / len(requests)
    assert shown["Delivery success rate"] == f"{success * 100:.2f} %"
    assert shown["Active titles"] == f"{now['content_id'].nunique():,} titles"
    day_start = m // 86_400_000 * 86_400_000
    today = events[(events["minute_ms"] >= day_start) & events["currency"].notna()]
    usd_cents = (today.groupby("currency")["price_minor"].sum() * pd.Series(USD_CENTS_PER_MINOR)).sum()
    assert shown["Revenue today (USD equiv.)"] == f"${usd_cents / 100:,.2f}"
    # Freshness: wall clock minus the end of the newest minute, coloured (this data is old: red).
    badge = next(md.value for md in at.markdown if "behind real time" in md.value)
    assert badge.startswith(":red-badge[")
    seconds = int(badge.split("Freshness: ")[1].split(" s")[0].replace(",", ""))
    assert abs(seconds - (time.time() - (m + MINUTE) / 1000)) < 30
    assert f"{datetime.fromtimestamp((m + MINUTE) / 1000, tz=timezone.utc):%Y-%m-%d %H:%M} UTC" in at.caption[0].value


def test_trending_ranks_scores_and_movement(dashboard: PipelineRun, events: pd.DataFrame) -> None:
    end = dashboard.end
    expected = trending(events, int(end.timestamp() * 1000))
    at = open_page("trending")
    assert at.button_group[0].value == "GLOBAL"

    def check(scope: str, table: pd.DataFrame) -> None:
        want = [(r, *expected[(scope, end, r)]) for r in range(1, 11) if (scope, end, r) in expected]
        assert len(table) == len(want) > 0
        got_ids = table["link"].str.removeprefix("/content?content_id=").tolist()
        assert got_ids == [w[1] for w in want]
        assert table["events"].tolist() == [w[2] for w in want]
        assert table["score"].round(9).tolist() == [round(w[5], 9) for w in want]
        previous = {
            v[0]: rank for (s, e, rank), v in expected.items() if s == scope and e == end - timedelta(minutes=1)
        }
        movement = []
        for rank, content, *_ in want:
            before = previous.get(content)
            change = None if before is None else before - rank
            movement.append(
                "NEW" if change is None else "=" if change == 0 else f"▲ {change}" if change > 0 else f"▼ {-change}"
            )
        assert table["movement"].tolist() == movement

    check("GLOBAL", at.dataframe[0].value)
    at.button_group[0].set_value("BR").run()
    assert not at.exception
    assert "BR · Brazil" in at.subheader[0].value
    check("BR", at.dataframe[0].value)


def test_content_drilldown_by_title(dashboard: PipelineRun, events: pd.DataFrame) -> None:
    content_id = events["content_id"].value_counts().index[1]  # not the default choice: find it by name
    title = query(dashboard.dsn, "select title from catalog.content where content_id = %s", (content_id,))[0][0]
    at = open_page("content")
    at.text_input[0].set_value(title[: max(4, len(title) - 3)]).run()
    assert content_id in at.selectbox[0].options or any(content_id in o for o in at.selectbox[0].options)
    at.selectbox[0].set_value(content_id).run()
    assert not at.exception
    assert at.subheader[0].value == title
    mine = events[events["content_id"] == content_id]  # all of the run lies within the last 60 min of data
    kinds = mine["event_type"].value_counts()
    done, failed = kinds.get("DOWNLOAD_COMPLETED", 0), kinds.get("DOWNLOAD_FAILED", 0)
    shown = metrics(at)
    assert shown["Events (last 60 min of data)"] == f"{len(mine):,} events"
    assert shown["Purchases (last 60 min of data)"] == f"{kinds.get('PURCHASE', 0):,} purchases"
    assert shown["Download success rate"] == (f"{done / (done + failed) * 100:.2f} %" if done + failed else "–")
    newest = datetime.fromtimestamp(newest_minute(events) / 1000, tz=timezone.utc)
    assert shown["Newest minute (UTC)"] == f"{newest:%Y-%m-%d %H:%M}"
    regions = at.dataframe[0].value.set_index("region")["events"].to_dict()
    assert regions == mine.groupby("region").size().to_dict()
    assert any("No device split yet" in i.value for i in at.info)


def test_regions_activity_and_health(dashboard: PipelineRun, events: pd.DataFrame) -> None:
    m = newest_minute(events)
    last5 = events[events["minute_ms"] > m - 5 * MINUTE]
    # Node minutes carry their region as Flink computes it (MAX(region) of the node's requests).
    req = last5[last5["event_type"].isin(REQUESTS)].assign(error=lambda d: d["error_code"].notna())
    nodes = req.groupby(["cdn_node", "minute_ms"]).agg(region=("region", "max"), requests=("error", "size"),
                                                       errors=("error", "sum"))  # fmt: skip
    health = nodes.groupby("region")[["requests", "errors"]].sum()
    at = open_page("regions")
    table = at.dataframe[0].value.set_index("region")
    assert table["events_per_min"].round(6).to_dict() == (last5.groupby("region").size() / 5).round(6).to_dict()
    assert table["requests"].to_dict() == health["requests"].to_dict()
    assert table["errors"].to_dict() == health["errors"].to_dict()
    assert (
        table["error_rate_pct"].round(9).to_dict() == (100 * health["errors"] / health["requests"]).round(9).to_dict()
    )
    assert table["open_anomalies"].sum() == 0  # every incident of the run has ended


def test_cdn_health_nodes_and_anomalies(dashboard: PipelineRun, events: pd.DataFrame) -> None:
    at = open_page("cdn")
    req = events[events["event_type"].isin(REQUESTS)]  # the run is shorter than the default 30 minutes
    summary = at.dataframe[0].value.set_index("cdn_node")
    assert summary["requests"].to_dict() == req.groupby("cdn_node").size().to_dict()
    assert summary["errors"].to_dict() == req.groupby("cdn_node")["error_code"].count().to_dict()
    # The anomalies are the detector's rows, and they cover every incident the generator injected.
    rows = query(dashboard.dsn, "select anomaly_kind, subject from realtime.cdn_anomalies")
    shown = [md.value for md in at.markdown if md.value.startswith("**")]
    assert len(shown) == len(rows) > 0
    for kind, subject in rows:
        assert any(f"**{kind}** · `{subject}`" in s for s in shown)
    injected = query(
        dashboard.dsn,
        "select target from ground_truth.incidents where run_id = %s and target <> ''",
        (dashboard.run_id,),
    )
    for (target,) in injected:
        assert any(f"`{target}`" in s for s in shown), target


def test_cdn_drill_down_shows_what_the_outage_hit(dashboard: PipelineRun, events: pd.DataFrame) -> None:
    """The DE node outage: its error rate before, during and after, and the region's titles during it, equal
    the events in Kafka."""
    at = open_page("cdn")
    (chosen,) = [x for x in at.selectbox(key="cdn_drill").options if x.startswith("ERROR_RATE · edge-de-fra-1 ·")]
    at.selectbox(key="cdn_drill").set_value(chosen).run()
    assert not at.exception
    ((started, ended),) = query(dashboard.dsn, "select started_at, ended_at from realtime.cdn_anomalies "
                                "where anomaly_kind = 'ERROR_RATE' and subject = 'edge-de-fra-1'")  # fmt: skip
    context = timedelta(minutes=15)  # the default
    node = events[events["event_type"].isin(REQUESTS) & (events["cdn_node"] == "edge-de-fra-1")]
    shown = {m.label.split(" (")[0]: m for m in at.metric if m.label.split(" (")[0] in ("Before", "During", "After")}
    for name, (a, b) in {"Before": (started - context, started), "During": (started, ended),
                         "After": (ended, ended + context)}.items():  # fmt: skip
        span = node[(node["minute_ms"] >= a.timestamp() * 1000) & (node["minute_ms"] < b.timestamp() * 1000)]
        rate = span["error_code"].notna().sum() / len(span)
        assert shown[name].value == f"{rate * 100:.2f} % errors", name
    assert float(shown["During"].value.split()[0]) > 30 > 5 > float(shown["After"].value.split()[0])
    de = events[(events["region"] == "DE") & (events["minute_ms"] >= started.timestamp() * 1000)
                & (events["minute_ms"] < ended.timestamp() * 1000)]  # fmt: skip
    per_title = de.assign(failed=de["event_type"] == "DOWNLOAD_FAILED").groupby("content_id").agg(
        events=("failed", "size"), failed=("failed", "sum"))  # fmt: skip
    top = per_title.reset_index().sort_values(["failed", "events", "content_id"], ascending=[False, False, True])
    (table,) = [d.value for d in at.dataframe if "downloads_failed" in d.value.columns]
    assert table["content_id"].tolist() == top["content_id"].head(10).tolist()
    assert table["downloads_failed"].tolist() == top["failed"].head(10).tolist()


def test_cdn_acknowledge(dashboard: PipelineRun) -> None:
    acks = query(dashboard.dsn, "select to_regclass('api.anomaly_acks') is not null")[0][0]
    at = open_page("cdn")
    buttons = {b.key: b for b in at.button if b.key and b.key.startswith("ack-")}
    if not acks:
        assert buttons and all(b.disabled for b in buttons.values())
        assert any("api.anomaly_acks" in w.value for w in at.warning)
        pytest.skip("api.anomaly_acks does not exist yet: acknowledging is shown as unavailable (checked above)")
    # An anomaly nobody has acknowledged yet (other tests share the kept database).
    kind, subject, started_at = query(
        dashboard.dsn,
        "select a.anomaly_kind, a.subject, a.started_at from realtime.cdn_anomalies a "
        "left join api.anomaly_acks k using (anomaly_kind, subject, started_at) where k.anomaly_kind is null "
        "order by a.started_at desc limit 1",
    )[0]
    key = f"ack-{kind}-{subject}-{started_at:%Y%m%d%H%M}"
    assert not buttons[key].disabled
    buttons[key].click().run()
    assert not at.exception
    try:
        rows = query(
            dashboard.dsn,
            "select acknowledged_by from api.anomaly_acks where (anomaly_kind, subject, started_at) = (%s, %s, %s)",
            (kind, subject, started_at),
        )
        assert rows == [(f"dashboard:{getpass.getuser()}",)]
        assert key not in {b.key for b in at.button}  # the button gave way to who acknowledged it
        assert any(f"`{subject}`" in md.value for md in at.markdown)
        assert any("acknowledged by dashboard:" in md.value for md in at.markdown)
    finally:  # the kept test database is reused by the next session
        query_rw(
            dashboard.dsn,
            "delete from api.anomaly_acks where (anomaly_kind, subject, started_at) = (%s, %s, %s)",
            (kind, subject, started_at),
        )


def test_bi_marts_and_reports(dashboard: PipelineRun, request: pytest.FixtureRequest) -> None:
    try:
        request.getfixturevalue("marts_built")
    except pytest.FixtureLookupError:
        pass  # no dbt fixture yet: check whatever the database has (possibly nothing)
    # A day's report as the reports asset writes it: report.html and CSV extracts in reports_dir/YYYY-MM-DD/.
    folder = get_settings().reports_dir / "2026-01-01"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text("<html><body><h1>Daily report 2026-01-01</h1></body></html>")
    (folder / "top_movers.csv").write_text("content_id,rank_change\nmus-000001,3\n")
    at = open_page("bi")
    marts = [r[0] for r in query(dashboard.dsn, "select table_name from information_schema.tables "
                                                "where table_schema = 'marts' order by 1")]  # fmt: skip
    if not marts:
        assert any("No marts yet" in i.value for i in at.info)
    else:
        assert sorted(at.selectbox(key="mart").options) == marts
        chosen = at.selectbox(key="mart").value
        count = query(dashboard.dsn, f'select count(*) from marts."{chosen}"')[0][0]
        assert len(at.dataframe[0].value) == min(count, 5000)
    assert at.selectbox(key="report_day").options == ["2026-01-01"]
    labels = [b.proto.label for b in at.get("download_button")]
    assert "report.html" in labels and "top_movers.csv" in labels


def test_pipeline_state_from_flink_and_kafka(dashboard: PipelineRun) -> None:
    settings = get_settings()
    at = open_page("pipeline")
    shown = metrics(at)
    assert shown["Late events (all time)"] == f"{LATE_EVENTS:,} events"
    dead = query(dashboard.dsn, "select to_regclass('realtime.dead_letters') is not null")[0][0]
    if dead:
        n = query(dashboard.dsn, "select count(*) from realtime.dead_letters")[0][0]
        assert shown["Dead letters (all time)"] == f"{n:,} records"
    else:
        assert shown["Dead letters (all time)"] == "no table"
    jobs = FlinkRest.from_settings(settings).jobs()
    table = next(d.value for d in at.dataframe if "job_id" in d.value)
    assert set(table["job_id"]) <= {j["jid"] for j in jobs}
    # Kafka: the test job's consumer group committed offsets on the run's topic; lag = end - committed.
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": dashboard.isolated.job_name})
    try:
        parts = [TopicPartition(dashboard.isolated.topic, p) for p in range(3)]
        committed = {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
    finally:
        consumer.close()
    lag = next(d.value for d in at.dataframe if "group" in d.value).set_index("group").loc[dashboard.isolated.job_name]
    assert lag["end_offset"] == sum(ends.values())
    assert lag["committed"] == sum(committed.values())
    assert lag["lag"] == sum(ends.values()) - sum(committed.values())


def test_every_page_says_what_to_do_without_data(isolated) -> None:  # noqa: ANN001
    """A fresh database (tables, no rows): each page explains itself instead of failing."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", isolated.dsn())
        mp.setenv("STREAMPULSE_EVENTS_TOPIC", isolated.topic)
        get_settings.cache_clear()
        try:
            for name in ("overview", "trending", "content", "regions", "cdn"):
                at = open_page(name)
                assert any("No data yet: is the generator running?" in i.value for i in at.info), name
            at = open_page("bi")
            assert any("No marts yet" in i.value for i in at.info)
            at = open_page("pipeline")
            assert metrics(at)["Late events (all time)"] == "0 events"
        finally:
            get_settings.cache_clear()
