"""The job's whole plan, as the planner builds it from the SQL files (EXPLAIN, local, nothing submitted):
the properties the exactly-once argument rests on (docs/operations.md) must hold in the plan itself.

- The watermark is generated inside the Kafka scan, so Flink keeps one watermark per partition and the
  job's watermark is the minimum over partitions: never ahead of a partition's own clock.
- Each partition's clock is a keyed OVER aggregate (checkpointed state) partitioned by kafka_partition,
  one that every query shares.
- Every query reads one retry detector (one window aggregate by a bucket of event_id), not one per query, and
  no window deduplication holds every row until its minute closes (docs/performance.md).
- Each minute table is one aggregate over the events (one phase), shared by every reader.
"""

from __future__ import annotations

import re

import pytest

from flink_jobs import deploy, plans, runner
from streampulse.settings import Settings
from tests.flink_local import job_table_env

pytestmark = pytest.mark.flinksql


@pytest.fixture(scope="module")
def plan() -> str:
    settings = Settings(database_url="postgresql://u:p@db.example:5432/sp")  # placeholders only, never connected
    env = job_table_env(settings)
    for key, value in deploy.PLAN_OPTIONS.items():
        env.get_config().set(key, value)
    statements = runner.render_statements(runner.placeholders(settings, "events", None, "job", masked=True))
    for statement in statements[:-1]:
        runner.execute(env, statement)
    statement_set = statements[-1]
    assert statement_set.lstrip().upper().startswith("EXECUTE STATEMENT SET"), statement_set[:40]
    explained = env.execute_sql("EXPLAIN " + plans.compile_statement(statement_set))
    text = "\n".join(str(row[0]) for row in explained.collect())
    return text.split("== Optimized Execution Plan ==", 1)[1]


def test_the_watermark_is_generated_per_partition_inside_the_kafka_scan(plan):
    scans = re.findall(r"TableSourceScan\(table=\[\[[^\]]*content_events_raw[^\n]*", plan)
    assert scans and all("watermark=[" in scan for scan in scans), scans
    assert "WatermarkAssigner" not in plan  # a separate assigner would hold one watermark for all partitions


def test_each_partitions_clock_is_keyed_state_computed_once(plan):
    """One OVER aggregate (and one shuffle of every event) serves the on-time and the late queries."""
    clocks = re.findall(r"OverAggregate\(partitionBy=\[kafka_partition\], orderBy=\[proc_time ASC\][^\n]*", plan)
    assert len(clocks) == 1 and plan.count("OverAggregate(") == 1, clocks


def test_every_query_reads_one_retry_detector_and_nothing_holds_whole_minutes(plan):
    """The detector groups by a bucket of the id (a timer per bucket, not per event) in one phase, and the
    retries it sends back at the close reach every query through one UNNEST."""
    assert "WindowDeduplicate" not in plan
    detectors = re.findall(r"WindowAggregate\(groupBy=\[id_bucket\][^\n]*", plan)
    assert len(detectors) == 1 and "retry_surplus(event_id, e)" in detectors[0], detectors
    assert "LocalWindowAggregate(groupBy=[id_bucket]" not in plan
    assert plan.count("Correlate(") == 1, plan.count("Correlate(")


def test_each_minute_table_is_one_aggregate_shared_by_its_readers(plan):
    """Trending reads the content x region minutes and the anomalies and region roll-up the node minutes:
    each reader shares the one aggregate over the events instead of having its own (two per table before).
    Each is one phase: no local aggregate sends a minute of partial rows at the close."""
    for keys in ("content_id, region", "cdn_node", "content_id"):
        minutes = re.findall(rf"WindowAggregate\(groupBy=\[{keys}\], window=\[TUMBLE[^\n]*", plan)
        assert len(minutes) == 1, (keys, minutes)
    assert "LocalWindowAggregate" not in plan and "GlobalWindowAggregate" not in plan


def test_each_union_of_events_and_retries_carries_only_what_its_reader_reads(plan):
    """The union of on-time events and retries feeds a task of its own: only its reader's columns cross."""
    unions = re.findall(r"Union\(all=\[true\], union=\[event_time, weight, ([^\]]*)\]", plan)
    assert len(unions) == 3, unions
    assert all("cdn_node" not in u for u in unions if "price_minor" in u), unions  # content x region


def test_trending_slices_its_windows(plan):
    """Trending's aggregates add each minute row once, to its minute (a window merges its five when it fires):
    no HOP window is materialised, which copied every content x region minute row into its 5 windows."""
    hops = re.findall(r"WindowAggregate\([^\n]*window=\[HOP\([^\n]*", plan)
    assert len(hops) == 2 and all("HOP(time_col=[minute_time]" in hop for hop in hops), hops
    assert "WindowTableFunction" not in plan
