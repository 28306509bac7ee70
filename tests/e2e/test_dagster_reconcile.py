"""The Dagster reconciliation check against the real pipeline run: passes on the job's tables, and fails,
naming the table, once a row is changed behind the job's back."""

from __future__ import annotations

import psycopg
import pytest
from dagster import build_asset_check_context

from orchestration.resources import KafkaResource, PostgresResource
from orchestration.streaming.replay import reconciled_with_kafka
from tests.e2e.conftest import PipelineRun

pytestmark = pytest.mark.stack


def test_reconciliation_check_passes_then_catches_a_changed_row(pipeline_run: PipelineRun):
    iso = pipeline_run.isolated
    kafka = KafkaResource(bootstrap_servers=iso.settings.bootstrap_servers, events_topic=iso.topic,
                          alerts_topic=iso.alerts_topic)  # fmt: skip
    postgres = PostgresResource(database=iso.database)
    result = reconciled_with_kafka(build_asset_check_context(), kafka=kafka, postgres=postgres)
    assert result.passed, result.metadata["report"]
    assert result.metadata["lost"].value == 0 and result.metadata["doubled"].value == 0

    sql = "update realtime.cdn_node_minute_stats set requests = requests + 1 where (cdn_node, window_start) = " \
          "(select cdn_node, window_start from realtime.cdn_node_minute_stats order by 1, 2 limit 1)"  # fmt: skip
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        conn.execute(sql)
        try:
            broken = reconciled_with_kafka(build_asset_check_context(), kafka=kafka, postgres=postgres)
        finally:
            conn.execute(sql.replace("requests + 1", "requests - 1"))
    assert not broken.passed
    assert "cdn_node_minute_stats" in broken.metadata["report"].value
