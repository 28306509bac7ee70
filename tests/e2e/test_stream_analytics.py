"""Stream analytics: every real-time table equals an independent computation over the same events,
and the anomaly detector finds the injected incidents (precision, recall, time to detect).

One seeded generator run with incidents, out-of-order events (inside the watermark's 5 s) and
duplicates; then, once the job has moved past them, late events (beyond the watermark).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import psycopg
import pytest

from generator import domain
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from tests.e2e import expected
from tests.e2e.helpers import T0, flink_job, ms, send_clock

pytestmark = pytest.mark.stack

RATE = 200  # events per second of event time
MINUTES = 16
INCIDENTS = [
    "cdn_outage:node=edge-de-fra-1,start=180,duration=300",
    "cdn_outage:node=edge-us-east-2,start=600,duration=240",
    "latency_degradation:node=edge-jp-tyo-1,start=240,duration=300",
    "regional_outage:region=BR,start=420,duration=240",
]
NOISE = ["out_of_order:fraction=0.1,max_delay=4,start=0,duration=960", "duplicates:fraction=0.01,start=0,duration=960"]
LATE_EVENTS = 500


def _query(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def _wait(dsn: str, sql: str, until, timeout_s: float = 240) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if until(_query(dsn, sql)[0][0]):
            time.sleep(2)  # one more sink flush
            return
        time.sleep(2)
    pytest.fail(f"timed out waiting for: {sql}")


TABLES = (
    "content_minute_stats",
    "content_region_minute_stats",
    "trending",
    "cdn_node_minute_stats",
    "cdn_alerts",
    "cdn_incidents",
    "late_events_minute",
)


def _wait_until_settled(dsn: str, timeout_s: float = 300) -> None:
    """Until every real-time table has stopped changing for 8 s (the sinks flush every 0.5 s)."""
    sql = (
        "select "
        + ", ".join(f"(select count(*) from realtime.{t})" for t in TABLES)
        + ", (select coalesce(sum(late_events), 0) from realtime.late_events_minute)"
    )
    deadline = time.monotonic() + timeout_s
    last, same_since = None, time.monotonic()
    while time.monotonic() < deadline:
        counts = _query(dsn, sql)[0]
        if counts != last:
            last, same_since = counts, time.monotonic()
        elif time.monotonic() - same_since >= 8:
            return
        time.sleep(1)
    pytest.fail("the real-time tables did not settle")


def _approx(values: tuple) -> tuple:
    return tuple(pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v for v in values)


@pytest.fixture(scope="module")
def analysed(stack, tmp_path_factory):  # noqa: ANN001
    """Run the scenario through the real job once; the tests below check its results."""
    from tests.conftest import Isolated, _drop, _isolate

    isolated: Isolated = _isolate(stack)
    settings = isolated.scoped_settings()
    end = T0 + timedelta(minutes=MINUTES)
    with flink_job(isolated):
        first = run_generator(
            settings,
            RunConfig(
                rate=RATE,
                duration_s=MINUTES * 60,
                seed=2026,
                start_ms=ms(T0),
                max_speed=True,
                scenarios=load(INCIDENTS + NOISE),
            ),  # fmt: skip
        )
        producer = EventProducer(settings, isolated.topic)
        send_clock(producer, end + timedelta(seconds=10))  # watermark passes the last window's end
        producer.flush()
        phase_one_ends = expected.end_offsets(settings, isolated.topic)
        _wait(isolated.dsn(), f"select count(*) from realtime.trending where window_end = '{end.isoformat()}'",
              lambda n: n > 0)  # fmt: skip
        _wait_until_settled(isolated.dsn())
        # Late events: event times in minute 5..6, long after the watermark passed them.
        late = run_generator(
            settings,
            RunConfig(
                rate=100, count=LATE_EVENTS, seed=7, start_ms=ms(T0 + timedelta(minutes=5, seconds=30)), max_speed=True
            ),  # fmt: skip
        )
        _wait(isolated.dsn(), "select coalesce(sum(late_events), 0) from realtime.late_events_minute",
              lambda n: n >= LATE_EVENTS)  # fmt: skip
        _wait_until_settled(isolated.dsn())
    events = expected.read_events(settings, isolated.topic)
    is_phase_one = events.apply(lambda r: r["offset"] < phase_one_ends[r["partition"]], axis=1)
    on_time = events[is_phase_one & (events["content_id"] != "clock")]
    yield {
        "isolated": isolated,
        "dsn": isolated.dsn(),
        "on_time": on_time,
        "late": events[~is_phase_one],
        "end": end,
        "runs": (first, late),
    }
    _drop(stack, isolated)


def test_content_minute_stats_equal_the_independent_computation(analysed):
    want = expected.content_minute_stats(analysed["on_time"])
    rows = _query(analysed["dsn"], """
        select content_id, window_start, events, downloads_started, downloads_completed, downloads_failed,
               streams_started, streams_ended, purchases, bytes_sent, distinct_users, ttfb_avg_ms, ttfb_p95_ms
        from realtime.content_minute_stats""")  # fmt: skip
    got = {(r[0], r[1]): _approx(r[2:]) for r in rows}
    assert len(got) == len(want) > 1000
    assert got == want
    # Duplicates are counted as sent: the total is every on-time event in Kafka.
    assert sum(v[0] for v in want.values()) == len(analysed["on_time"])


def test_content_region_minute_stats_equal_the_independent_computation(analysed):
    want = expected.content_region_minute_stats(analysed["on_time"])
    rows = _query(analysed["dsn"], """
        select content_id, region, window_start, events, downloads_started, downloads_completed, downloads_failed,
               streams_started, purchases, revenue_minor, currency, distinct_users
        from realtime.content_region_minute_stats""")  # fmt: skip
    got = {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}
    assert got == want
    assert sum(v[6] for v in want.values()) > 0  # there was revenue


def test_cdn_node_minutes_equal_the_independent_computation(analysed):
    want = expected.cdn_node_minutes(analysed["on_time"])
    rows = _query(analysed["dsn"], """
        select cdn_node, window_start, region, requests, errors, error_rate, ttfb_p50_ms, ttfb_p95_ms,
               throughput_avg_kbps, bytes_sent
        from realtime.cdn_node_minute_stats""")  # fmt: skip
    got = {(r[0], r[1]): _approx(r[2:]) for r in rows}
    columns = ["region", "requests", "errors", "error_rate", "ttfb_p50_ms", "ttfb_p95_ms", "throughput_avg_kbps",
               "bytes_sent"]  # fmt: skip
    expect = {
        (w["subject"], expected.ts(int(w["minute_ms"]))): tuple(None if pd.isna(w[c]) else w[c] for c in columns)
        for w in want.to_dict("records")
    }
    assert got == expect


def test_trending_top_n_equals_the_independent_computation(analysed):
    want = expected.trending(analysed["on_time"], ms(analysed["end"]))
    rows = _query(analysed["dsn"], """
        select trend_scope, window_end, rank_no, content_id, events, recent_events, earlier_events, score
        from realtime.trending""")  # fmt: skip
    got = {(r[0], r[1], r[2]): _approx(r[3:]) for r in rows}
    assert len(got) == len(want) > 100
    assert got == want


def test_late_events_are_counted_not_dropped(analysed):
    late = analysed["late"]
    assert len(late) == LATE_EVENTS
    want = {expected.ts(int(m)): n for m, n in late.groupby("minute_ms").size().items()}
    got = dict(_query(analysed["dsn"], "select event_minute, late_events from realtime.late_events_minute"))
    assert got == want


def _expected_anomalies(on_time: pd.DataFrame, settings) -> tuple[dict, dict]:  # noqa: ANN001
    nodes = expected.cdn_node_minutes(on_time)
    regions = expected.cdn_region_minutes(on_time)
    enough_n = nodes["requests"] >= settings.anomaly_min_requests
    enough_r = regions["requests"] >= settings.anomaly_min_requests
    opened, resolved = {}, {}
    for minutes, bad, kind, value in (
        (nodes, enough_n & (nodes["error_rate"] >= settings.anomaly_error_rate_threshold), "ERROR_RATE", "error_rate"),
        (nodes, enough_n & (nodes["ttfb_p95_ms"] >= settings.anomaly_latency_p95_threshold_ms), "LATENCY",
         "ttfb_p95_ms"),
        (regions, enough_r & (regions["error_rate"] >= settings.anomaly_regional_error_rate_threshold),
         "REGIONAL_OUTAGE", "error_rate"),
    ):  # fmt: skip
        o, r = expected.anomalies(minutes, bad, kind, value)
        opened |= o
        resolved |= r
    return opened, resolved


def test_anomaly_tables_equal_the_pattern_semantics(analysed):
    opened, resolved = _expected_anomalies(analysed["on_time"], analysed["isolated"].settings)
    alerts = _query(
        analysed["dsn"], "select anomaly_kind, subject, started_at, detected_at, peak_value from realtime.cdn_alerts"
    )
    incidents = _query(
        analysed["dsn"],
        "select anomaly_kind, subject, started_at, ended_at, bad_minutes, peak_value from realtime.cdn_incidents",
    )
    assert {(a[0], a[1], a[2]): _approx(a[3:]) for a in alerts} == opened
    assert {(i[0], i[1], i[2]): _approx(i[3:]) for i in incidents} == resolved


def test_anomaly_detection_quality_against_the_labels(analysed):
    """Recall and precision >= 95% against the generator's ground truth; detection within 3 minutes."""
    dsn = analysed["dsn"]
    run_id = analysed["runs"][0].run_id
    labels = _query(
        dsn,
        "select kind, target, starts_at, ends_at from ground_truth.incidents"
        f" where run_id = '{run_id}' and kind in ('cdn_outage', 'latency_degradation', 'regional_outage')",
    )
    anomalies = _query(dsn, "select anomaly_kind, subject, region, started_at, detected_at from realtime.cdn_anomalies")
    assert len(labels) == len(INCIDENTS)
    matches_kind = {"cdn_outage": "ERROR_RATE", "latency_degradation": "LATENCY", "regional_outage": "REGIONAL_OUTAGE"}
    node_region = {n: r.code for r in domain.REGIONS for n in r.edge_nodes}

    def explains(label, anomaly) -> bool:  # noqa: ANN001
        kind, target, start, end = label
        a_kind, subject, _region, a_start, _detected = anomaly
        overlaps = a_start < end and start < a_start + timedelta(minutes=3)
        if not overlaps:
            return False
        if a_kind == matches_kind[kind] and subject == target:
            return True
        # A regional outage also fails each of the region's nodes.
        return kind == "regional_outage" and a_kind == "ERROR_RATE" and node_region.get(subject) == target

    detected = [lb for lb in labels if any(explains(lb, a) and a[0] == matches_kind[lb[0]] for a in anomalies)]
    true_positives = [a for a in anomalies if any(explains(lb, a) for lb in labels)]
    recall, precision = len(detected) / len(labels), len(true_positives) / max(len(anomalies), 1)
    assert recall >= 0.95 and precision >= 0.95, (labels, anomalies)
    for kind, target, start, _end in labels:
        first = min(a[4] for a in anomalies if a[0] == matches_kind[kind] and a[1] == target)
        assert first - start <= timedelta(minutes=3), (kind, target, first - start)
