"""The job's transform views (flink_jobs/sql/05_views.sql) on small bounded inputs, in a local PyFlink
TableEnvironment: no cluster, no Kafka, no registry (about 20 s, most of it starting the local JVM).

The views are rendered by the runner exactly as they are submitted (placeholders, `$$` escapes) and read a
bounded `content_events` table of the same shape as the job's view of that name: the decoding function's
columns (read from its Java type hint) plus kafka_partition, kafka_offset, proc_time AS PROCTIME() and the
job's watermark. The rows come from one JSON file read at parallelism 1, so they arrive in file order: the
processing-time OVER aggregate (each partition's running clock) sees them in that order, as Kafka delivers
a partition's records in offset order, and the results are determined.

One difference from the job: one file is one split with one watermark, not one per Kafka partition (where
the job's watermark is the minimum over partitions). So the lateness test checks the classification only,
and the counting test feeds rows in event-time order, so that no window closes before its rows arrive.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flink_jobs import runner
from streampulse.settings import REPO_ROOT, Settings
from tests.flink_local import job_table_env

pytestmark = pytest.mark.flinksql

UDF = REPO_ROOT / "flink_jobs/udf/src/main/java/io/streampulse/flink/DecodeContentEvent.java"
VIEWS = runner.SQL_DIR / "05_views.sql"
SETTINGS = Settings(database_url="postgresql://u:p@db.example:5432/sp")  # only placeholders, never connected


def decoded_columns() -> list[str]:
    """`name TYPE` of every field the job's decoding function returns (its DataTypeHint), but the error."""
    hint = re.search(r'value\s*=\s*((?:"[^"]*"\s*\+?\s*)+)', UDF.read_text()).group(1)
    row = "".join(re.findall(r'"([^"]*)"', hint))
    assert row.startswith("ROW<") and row.endswith(">"), row
    return [field.strip() for field in row[4:-1].split(",") if not field.strip().startswith("decode_error ")]


@pytest.fixture
def flink_env() -> Iterator[object]:
    """A fresh local streaming TableEnvironment per test (the JVM behind it starts once per session), with the
    job's jars: the views call StreamPulse's own functions (flink_jobs/udf)."""
    env = job_table_env(SETTINGS)
    env.get_config().set("parallelism.default", "1")  # one reader, one channel: rows keep their file order
    yield env


def run_views(env, tmp_path: Path, rows: list[dict], query: str) -> list[tuple]:  # noqa: ANN001
    """Create `content_events` over `rows` (JSON lines; absent fields are NULL), the job's views over it,
    and return the rows of `query`."""
    data = tmp_path / "content_events"
    data.mkdir()
    (data / "events.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = ",\n    ".join(decoded_columns())
    env.execute_sql(f"""
        CREATE TEMPORARY TABLE content_events (
            {columns},
            kafka_partition INT,
            kafka_offset BIGINT,
            proc_time AS PROCTIME(),
            WATERMARK FOR event_time AS event_time - INTERVAL '{SETTINGS.watermark_delay_seconds}' SECOND
        ) WITH ('connector' = 'filesystem', 'path' = '{data}', 'format' = 'json')
    """)
    # The views file alone, rendered by the runner as it renders the job (placeholders, `$$` escapes).
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    shutil.copy(VIEWS, sql_dir)
    for statement in runner.render_statements(runner.placeholders(SETTINGS, "t", None, "g"), sql_dir=sql_dir):
        runner.execute(env, statement)
    with env.execute_sql(query).collect() as results:
        return [tuple(r) for r in results]


def event(event_id: int, at: str, partition: int, offset: int, **extra: object) -> dict:
    return {"event_id": event_id, "event_type": "PURCHASE", "event_time": f"2026-01-01 {at}", "content_id": "c1",
            "region": "DE", "price_minor": 100, "currency": "EUR", "kafka_partition": partition,
            "kafka_offset": offset, **extra}  # fmt: skip


def test_lateness_is_decided_by_the_events_own_partition_clock(flink_env, tmp_path):
    """Late: the partition's running max event time minus the 5 s delay has reached the minute's end - 1 ms."""
    assert SETTINGS.watermark_delay_seconds == 5
    rows = [
        event(1, "10:00:30.000", 0, 0),  # partition 0's clock 10:00:30
        event(2, "10:01:04.998", 0, 1),  # clock 10:01:04.998: minus 5 s, 1 ms short of 10:00:59.999
        event(3, "10:00:50.000", 0, 2),  # so its minute is still open: on time
        event(4, "10:01:04.999", 0, 3),  # clock 10:01:04.999: minus 5 s = 10:00:59.999
        event(5, "10:00:50.000", 0, 4),  # the 10:00 window has closed by partition 0's clock: late
        event(6, "10:00:50.000", 1, 0),  # the same time in partition 1, whose clock is behind: on time
    ]
    got = run_views(flink_env, tmp_path, rows, "SELECT event_id, kafka_partition, partition_clock, is_late "
                                               "FROM classified_events")  # fmt: skip
    classified = {r[0]: (r[1], f"{r[2]:%H:%M:%S.%f}"[:-3], r[3]) for r in got}
    assert classified == {
        1: (0, "10:00:30.000", False),
        2: (0, "10:01:04.998", False),
        3: (0, "10:01:04.998", False),
        4: (0, "10:01:04.999", False),
        5: (0, "10:01:04.999", True),
        6: (1, "10:00:50.000", False),
    }


def test_a_retried_event_counts_once_in_its_minute(flink_env, tmp_path):
    """Two copies of one event_id (a client retry: same id, same event time) count once in the minute."""
    rows = [
        event(10, "10:00:05.000", 0, 0),
        event(11, "10:00:20.000", 0, 1, user_id=7),
        event(11, "10:00:20.000", 0, 2, user_id=7),  # the retry, at a later offset
        event(12, "10:00:40.000", 0, 3, event_type="DOWNLOAD_STARTED", price_minor=None),
        event(13, "10:01:10.000", 0, 4),  # the next minute, on its own
    ]
    got = run_views(flink_env, tmp_path, rows, "SELECT content_id, minute_start, events, purchases, revenue_minor "
                                               "FROM content_region_minutes")  # fmt: skip
    assert sorted((r[0], f"{r[1]:%H:%M}", *r[2:]) for r in got) == [
        ("c1", "10:00", 3, 2, 200),
        ("c1", "10:01", 1, 1, 100),
    ]


STREAM = {"event_type": "STREAM_STARTED", "cdn_node": "n1", "price_minor": None, "currency": None}
# Retried events (two and three copies) in one minute: each figure of the tests below is that of the distinct
# events, worked out by hand, including the percentiles and averages the surplus copies must leave untouched.
RETRIED = [
    event(1, "10:00:01.000", 0, 0, user_id=1, ttfb_ms=100, throughput_kbps=1000, bytes_sent=10, **STREAM),
    event(2, "10:00:02.000", 0, 1, user_id=2, ttfb_ms=300, throughput_kbps=3000, bytes_sent=30, **STREAM),
    event(2, "10:00:02.000", 0, 2, user_id=2, ttfb_ms=300, throughput_kbps=3000, bytes_sent=30, **STREAM),
    event(3, "10:00:03.000", 0, 3, user_id=1, ttfb_ms=200, throughput_kbps=0, bytes_sent=20, error_code="E1", **STREAM),
    event(3, "10:00:03.000", 0, 4, user_id=1, ttfb_ms=200, throughput_kbps=0, bytes_sent=20, error_code="E1", **STREAM),
    event(3, "10:00:03.000", 0, 5, user_id=1, ttfb_ms=200, throughput_kbps=0, bytes_sent=20, error_code="E1", **STREAM),
    event(4, "10:00:30.000", 0, 6, user_id=3, price_minor=250),  # a purchase, retried once
    event(4, "10:00:30.000", 0, 7, user_id=3, price_minor=250),
    event(5, "10:01:10.000", 0, 8, user_id=9),  # the next minute, on its own
]  # fmt: skip


def test_node_minutes_count_retries_once_in_sums_rates_averages_and_percentiles(flink_env, tmp_path):
    nodes = run_views(flink_env, tmp_path, RETRIED,
                      "SELECT cdn_node, requests, errors, error_rate, ttfb_p50_ms, ttfb_p95_ms, throughput_avg_kbps, "
                      "bytes_sent FROM cdn_node_minutes")  # fmt: skip
    # Distinct requests: ttfb 100, 300, 200 -> p50 200, p95 at 1-based 2.9 -> 200*0.1 + 300*0.9 = 290.
    # Throughput without the 0: (1000 + 3000) / 2.
    assert [(r[0], r[1], r[2], r[3], r[4], round(r[5], 9), r[6], r[7]) for r in nodes] == [
        ("n1", 3, 1, 1 / 3, 200.0, 290.0, 2000.0, 60),
    ]


def test_content_region_minutes_count_retries_once(flink_env, tmp_path):
    regions = run_views(flink_env, tmp_path, RETRIED,
                        "SELECT minute_start, events, streams_started, purchases, revenue_minor, distinct_users "
                        "FROM content_region_minutes")  # fmt: skip
    assert sorted((f"{r[0]:%H:%M}", *r[1:]) for r in regions) == [
        ("10:00", 4, 3, 1, 250, 3),
        ("10:01", 1, 0, 1, 100, 1),
    ]
