"""The warehouse and reports Dagster domains: dbt models as assets with their tests as checks, schedules."""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import AssetKey, DagsterInstance, Definitions, build_schedule_context

from orchestration import reports, warehouse
from orchestration.resources import PostgresResource, dbt_resource

MARTS = ("content_hourly", "content_daily", "daily_kpis", "regional_trend_daily", "cdn_sla_daily",
         "new_release_hourly", "revenue_daily")  # fmt: skip


def _defs() -> Definitions:
    return Definitions.merge(
        warehouse.defs,
        reports.defs,
        Definitions(resources={"dbt": dbt_resource(), "postgres": PostgresResource(database="x")}),
    )


def test_every_mart_is_an_asset_with_its_dbt_tests_as_checks():
    graph = _defs().get_repository_def().asset_graph
    keys = graph.get_all_asset_keys()
    checks = {(c.asset_key, c.name) for c in graph.asset_check_keys}
    for mart in MARTS:
        key = AssetKey(["marts", mart])
        assert key in keys
        assert any(k == key and name.startswith(("unique", "not_null")) for k, name in checks), mart
    # The real-time tables and the catalog are the dbt sources, keyed as the streaming domain keys them.
    assert AssetKey(["realtime", "content_region_minute_stats"]) in keys and AssetKey(["catalog", "content"]) in keys
    assert AssetKey(["marts", "daily_kpis"]) in graph.get(AssetKey("daily_bi_report")).parent_keys


def test_schedules_build_hourly_and_report_the_day_that_ended():
    defs = _defs()
    hourly = defs.resolve_schedule_def("dbt_build_hourly")
    assert hourly.cron_schedule == "5 * * * *" and hourly.execution_timezone == "UTC"
    assert defs.resolve_job_def(hourly.job_name)
    daily = defs.resolve_schedule_def("daily_bi_report_schedule")
    with DagsterInstance.ephemeral() as instance:
        tick = datetime(2026, 1, 2, 0, 30, tzinfo=timezone.utc)
        result = daily.evaluate_tick(build_schedule_context(instance=instance, scheduled_execution_time=tick))
    assert [r.partition_key for r in result.run_requests] == ["2026-01-01"]
    assert daily.job_name == "daily_bi_report_job"
