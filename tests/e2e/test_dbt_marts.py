"""The dbt layer over the real pipeline's tables: a green build, marts that reconcile with the real-time
tables to the unit, incremental lookback for late rows, docs for every model and column."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import psycopg
import pytest

from streampulse.dbt import run_dbt
from tests.e2e.conftest import query

pytestmark = pytest.mark.stack

MARTS = (
    "content_hourly",
    "content_daily",
    "daily_kpis",
    "regional_trend_daily",
    "cdn_sla_daily",
    "new_release_hourly",
    "revenue_daily",
)
MEASURES = ("events", "downloads_started", "downloads_completed", "downloads_failed", "streams_started", "purchases",
            "revenue_minor")  # fmt: skip


def test_dbt_build_is_green_on_the_pipeline_run(dbt_build):
    out = re.sub(r"\x1b\[[0-9;]*m", "", dbt_build.result.stdout)
    done = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", out)
    assert done, out[-3000:]
    passed, warned, errors, skipped = map(int, done.groups())
    assert (errors, skipped) == (0, 0)
    assert "2 incremental models, 5 table models" in out and "6 unit tests" in out
    # No warnings: each download outcome follows its own start, so outcomes never outrun starts (an error now).
    assert warned == 0 and passed > 100, re.findall(r"\d+ of \d+ WARN \d+ (\S+)", out)
    for name in ("content_hourly", "content_daily", "daily_kpis"):
        assert re.search(rf"PASS {name}_outcomes_within_starts\b", out), name
    print(f"dbt build: {passed} passed in {dbt_build.seconds:.1f} s")
    assert dbt_build.seconds < 180  # 15 s on a quiet 2-core machine, 70 s with a dozen other jobs on it


def test_every_mart_has_its_primary_key_constraint(marts_built):
    rows = query(
        marts_built,
        "select tc.table_name from information_schema.table_constraints tc"
        " where tc.table_schema = 'marts' and tc.constraint_type = 'PRIMARY KEY'",
    )
    assert {r[0] for r in rows} == set(MARTS)


def test_content_hourly_reconciles_with_the_region_minute_table(marts_built):
    """Every (item, region, hour) of the mart equals the real-time minutes summed independently, both ways."""
    measures = ", ".join(f"sum({m})::bigint" for m in MEASURES)
    realtime = f"""
        select content_id, region, date_trunc('hour', window_start at time zone 'UTC') as hour, {measures},
               sum(distinct_users)::bigint, max(distinct_users)::bigint, count(*)::bigint
        from realtime.content_region_minute_stats group by 1, 2, 3"""
    mart = f"""
        select content_id, region, hour_start at time zone 'UTC', {", ".join(MEASURES)},
               user_minutes, peak_minute_users, active_minutes
        from marts.content_hourly"""
    assert query(marts_built, f"select count(*) from (({realtime}) except all ({mart})) d")[0][0] == 0
    assert query(marts_built, f"select count(*) from (({mart}) except all ({realtime})) d")[0][0] == 0
    totals = ", ".join(f"sum({m})" for m in MEASURES)
    assert query(marts_built, f"select {totals} from marts.content_hourly") == query(
        marts_built, f"select {totals} from realtime.content_region_minute_stats"
    )
    # Regions add up to the per-item minute table too (a second real-time table, written by another query).
    per_item = "sum(events), sum(downloads_started), sum(downloads_completed), sum(purchases)"
    assert query(marts_built, f"select {per_item} from marts.content_daily") == query(
        marts_built, f"select {per_item} from realtime.content_minute_stats"
    )


def test_daily_marts_equal_the_events_in_kafka(pipeline_run, marts_built):
    """daily_kpis and revenue_daily against the on-time events read back from Kafka (exact counts)."""
    ev = pipeline_run.on_time.copy()
    ev["day"] = ev["event_time"].map(lambda t: t.astimezone(timezone.utc).date())
    expected = ev.groupby("day")["event_type"].value_counts().unstack(fill_value=0)
    kpis = pd.DataFrame(
        query(marts_built, "select day, events, downloads_started, downloads_completed, downloads_failed,"
                           " streams_started, purchases, late_events from marts.daily_kpis order by day"),
        columns=["day", "events", "ds", "dc", "df", "ss", "p", "late"],
    ).set_index("day")  # fmt: skip
    assert list(kpis.index) == sorted(expected.index)
    for day, row in kpis.iterrows():
        e = expected.loc[day]
        assert row["events"] == int(e.sum())
        assert (row["ds"], row["dc"], row["df"]) == (
            e.get("DOWNLOAD_STARTED", 0),
            e.get("DOWNLOAD_COMPLETED", 0),
            e.get("DOWNLOAD_FAILED", 0),
        )
        assert (row["ss"], row["p"]) == (e.get("STREAM_STARTED", 0), e.get("PURCHASE", 0))
    assert kpis["late"].sum() == len(pipeline_run.late)

    purchases = ev[ev["event_type"] == "PURCHASE"]
    expected_rev = purchases.groupby(["day", "content_type", "region", "currency"])["price_minor"].agg(["count", "sum"])
    revenue = query(marts_built, "select day, content_type, region, currency, purchases, revenue_minor"
                                 " from marts.revenue_daily")  # fmt: skip
    assert {r[:4]: (r[4], r[5]) for r in revenue} == {
        k: (int(v["count"]), int(v["sum"])) for k, v in expected_rev.iterrows()
    }


def test_distinct_user_bounds_hold_against_the_exact_count(pipeline_run, marts_built):
    """The marts cannot carry exact distinct users per day; the two measures they carry bound it."""
    ev = pipeline_run.on_time
    ev = ev.assign(day=ev["event_time"].map(lambda t: t.astimezone(timezone.utc).date()))
    exact = ev.groupby(["content_id", "region", "day"])["user_id"].nunique()
    rows = query(
        marts_built, "select content_id, region, day, peak_minute_users, user_minutes from marts.content_daily"
    )
    assert len(rows) == len(exact)
    for content_id, region, day, low, high in rows:
        assert low <= exact[(content_id, region, day)] <= high


def test_cdn_sla_daily_matches_the_node_minutes_and_the_injected_incidents(pipeline_run, marts_built):
    by_node = query(
        marts_built,
        "select cdn_node, (window_start at time zone 'UTC')::date, sum(requests), sum(errors)"
        " from realtime.cdn_node_minute_stats group by 1, 2",
    )
    sla = query(marts_built, "select cdn_node, day, requests, errors from marts.cdn_sla_daily")
    assert sorted(sla) == sorted(by_node)
    incidents = query(
        marts_built,
        "select cdn_node, incidents, open_incidents, mttd_s, mttr_s, slo_met from marts.cdn_sla_daily"
        " where day = '2026-01-01' and incidents > 0 order by cdn_node",
    )
    # The run's four injected incidents (tests/e2e/conftest.py): each is found 3 minutes after its start
    # and recovers when the scenario ends; the regional outage in BR shows on both BR nodes.
    assert incidents == [
        ("edge-br-sao-1", 1, 0, 180.0, 240.0, False),
        ("edge-br-sao-2", 1, 0, 180.0, 240.0, False),
        ("edge-de-fra-1", 1, 0, 180.0, 300.0, False),
        ("edge-jp-tyo-1", 1, 0, 180.0, 300.0, False),
        ("edge-us-east-2", 1, 0, 180.0, 240.0, False),
    ]
    truth = query(
        marts_built,
        "select target, extract(epoch from ends_at - starts_at) from ground_truth.incidents"
        " where run_id = %s and kind in ('cdn_outage', 'latency_degradation')",
        (pipeline_run.run_id,),
    )
    mttr = {node: recover for node, _, _, _, recover, _ in incidents}
    assert {node: mttr[node] for node, _ in truth} == {node: float(seconds) for node, seconds in truth}
    assert query(marts_built, "select sum(regional_outages) from marts.cdn_sla_daily where region = 'BR'") == [(2,)]
    # On the full day, a node misses its objectives exactly when it had an incident or a regional outage.
    slo = query(marts_built, "select cdn_node, slo_met, incidents + regional_outages > 0 from marts.cdn_sla_daily"
                             " where day = '2026-01-01'")  # fmt: skip
    assert len(slo) == 19 and all(met != troubled for _, met, troubled in slo)


def test_regional_trend_daily_ranks_the_summed_window_scores(marts_built):
    windows = pd.DataFrame(
        query(marts_built, "select trend_scope, window_end, content_id, score from realtime.trending"),
        columns=["region", "window_end", "content_id", "score"],
    )
    windows["day"] = (windows["window_end"] - timedelta(minutes=1)).map(lambda t: t.astimezone(timezone.utc).date())
    points = windows.groupby(["day", "region", "content_id"])["score"].agg(["sum", "count"]).reset_index()
    points = points.sort_values(["day", "region", "sum", "count", "content_id"], ascending=[1, 1, 0, 0, 1])
    points["rank_no"] = points.groupby(["day", "region"]).cumcount() + 1
    top = points[points["rank_no"] <= 10]
    mart = query(
        marts_built, "select day, region, rank_no, content_id, score, rank_change from marts.regional_trend_daily"
    )
    assert {(d, r, n): c for d, r, n, c, _, _ in mart} == {
        (d, r, n): c for d, r, n, c in top[["day", "region", "rank_no", "content_id"]].itertuples(index=False)
    }
    scores = {(d, r, n): s for d, r, n, _, s, _ in mart}
    for d, r, n, s in top[["day", "region", "rank_no", "sum"]].itertuples(index=False):
        assert scores[(d, r, n)] == pytest.approx(s, rel=1e-12)
    assert {r for _, r, _, _, _, _ in mart} >= {"GLOBAL", "BR", "US"}
    # rank_change against the item's rank in the previous day's full ranking (null when it did not trend then);
    # out-of-order events of the run's first seconds can make a 2025-12-31 window, so compute it, not assume it.
    full = {(d, r, c): n for d, r, c, n in points[["day", "region", "content_id", "rank_no"]].itertuples(index=False)}
    want = {(d, r, n): (None if (d - timedelta(days=1), r, c) not in full else full[(d - timedelta(days=1), r, c)] - n)
            for d, r, n, c in top[["day", "region", "rank_no", "content_id"]].itertuples(index=False)}  # fmt: skip
    assert {(d, r, n): change for d, r, n, _, _, change in mart} == want


def test_new_release_hourly_covers_the_first_72_hours(marts_built):
    rows = query(
        marts_built,
        """
        select n.content_id, sum(n.events), min(n.hours_since_release), max(n.hours_since_release), count(*)
        from marts.new_release_hourly n group by 1
        """,
    )
    assert rows, "the catalog has releases within 72 h of the run"
    expected = dict(
        query(
            marts_built,
            """
            select c.content_id, coalesce(sum(m.events), 0)
            from catalog.content c
            left join realtime.content_minute_stats m on m.content_id = c.content_id
             and m.window_start >= date_trunc('hour', c.released_at at time zone 'UTC') at time zone 'UTC'
             and m.window_start < (date_trunc('hour', c.released_at at time zone 'UTC') at time zone 'UTC')
                                  + interval '72 hours'
            where c.released_at > timestamptz '2026-01-01 00:16:00+00' - interval '72 hours'
              and c.released_at <= timestamptz '2026-01-01 00:16:00+00'
            group by 1
            """,
        )
    )
    assert {r[0]: r[1] for r in rows} == expected
    for _, _, first, last, hours in rows:
        assert 0 <= first <= last <= 71 and hours == last - first + 1


def test_incremental_marts_pick_up_late_rows_within_the_lookback(isolated, tmp_path):
    """A real PostgreSQL with hand-made real-time rows: an incremental run re-reads the last hours only."""
    settings = isolated.scoped_settings()
    t = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        conn.execute("insert into catalog.content values ('mov-000001', 'A', 'MOVIE', 'Drama', %s, 399, 0.1)",
                     (t - timedelta(days=30),))  # fmt: skip

        def minute(at: datetime, events: int) -> None:
            conn.execute(
                "insert into realtime.content_region_minute_stats values"
                " ('mov-000001', 'US', %s, %s, %s, 0, 0, 0, %s, 0, 0, null, %s)",
                (at, at + timedelta(minutes=1), events, events, events),
            )

        minute(t - timedelta(hours=5), 1)
        minute(t, 2)
    select = ["--select", "+content_daily", "--target-path", str(tmp_path / "target")]
    first = run_dbt(settings, "run", *select, log_dir=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:]
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        # Late rows: one within the 3-hour lookback, one older than it, and a revised (upserted) minute.
        minute(t - timedelta(hours=2, minutes=30), 4)
        minute(t - timedelta(hours=5, minutes=-10), 8)
        conn.execute("update realtime.content_region_minute_stats set events = 3 where window_start = %s", (t,))
    second = run_dbt(settings, "run", *select, log_dir=tmp_path)
    assert second.returncode == 0, second.stdout[-3000:]
    hours = dict(query(isolated.dsn(), "select hour_start, events from marts.content_hourly"))
    assert hours == {t - timedelta(hours=5): 1, t - timedelta(hours=3): 4, t: 3}  # the 5-hour-old row waits
    assert query(isolated.dsn(), "select day, events from marts.content_daily") == [(date(2026, 3, 1), 8)]
    full = run_dbt(settings, "run", *select, "--full-refresh", log_dir=tmp_path)
    assert full.returncode == 0, full.stdout[-3000:]
    assert query(isolated.dsn(), "select sum(events) from marts.content_hourly") == [(16,)]


def test_dbt_docs_generate_describes_every_model_and_column(marts_built, pipeline_run, tmp_path):
    settings = pipeline_run.isolated.scoped_settings()
    target = tmp_path / "target"
    result = run_dbt(settings, "docs", "generate", "--target-path", str(target), log_dir=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    assert {m["name"] for m in models.values()} >= set(MARTS)
    for key, model in models.items():
        assert model["description"].strip(), f"{model['name']} has no description"
        built = {c.lower() for c in catalog["nodes"][key]["columns"]}
        described = {name for name, col in model["columns"].items() if col["description"].strip()}
        assert built == described, f"{model['name']}: columns without description {built - described}"
        if model["schema"] == "marts":
            assert model["config"]["contract"]["enforced"], model["name"]
