"""Stream analytics: every real-time table equals an independent computation over the same events,
and the anomaly detector finds the injected incidents (precision, recall, time to detect).

One seeded generator run with incidents, out-of-order events (inside the watermark's 5 s) and
duplicates; then, once the job has moved past them, late events (beyond the watermark).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from generator import domain
from tests.e2e import expected
from tests.e2e.conftest import INCIDENTS, LATE_EVENTS, PipelineRun, query
from tests.e2e.helpers import ms

pytestmark = pytest.mark.stack


def _approx(values: tuple) -> tuple:
    return tuple(pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v for v in values)


@pytest.fixture(scope="module")
def analysed(pipeline_run: PipelineRun) -> dict:
    return {
        "isolated": pipeline_run.isolated,
        "dsn": pipeline_run.dsn,
        "on_time": pipeline_run.on_time,
        "late": pipeline_run.late,
        "sent": pipeline_run.sent,
        "phase_two": pipeline_run.phase_two,
        "end": pipeline_run.end,
        "run_id": pipeline_run.run_id,
    }


def test_content_minute_stats_equal_the_independent_computation(analysed):
    want = expected.content_minute_stats(analysed["on_time"])
    rows = query(analysed["dsn"], """
        select content_id, window_start, events, downloads_started, downloads_completed, downloads_failed,
               streams_started, streams_ended, purchases, bytes_sent, distinct_users, ttfb_avg_ms, ttfb_p95_ms
        from realtime.content_minute_stats""")  # fmt: skip
    got = {(r[0], r[1]): _approx(r[2:]) for r in rows}
    assert len(got) == len(want) > 1000
    assert got == want


def test_client_retries_count_once(analysed):
    """The duplicates scenario's own label says how many copies it sent: exactly those are not counted."""
    effects = query(analysed["dsn"], "select effects from ground_truth.runs where run_id = %s", (analysed["run_id"],))
    retries = effects[0][0]["duplicates"]
    assert retries > 100
    counted = query(analysed["dsn"], "select sum(events) from realtime.content_minute_stats")[0][0]
    assert len(analysed["sent"]) - counted == retries


def test_content_region_minute_stats_equal_the_independent_computation(analysed):
    want = expected.content_region_minute_stats(analysed["on_time"])
    rows = query(analysed["dsn"], """
        select content_id, region, window_start, events, downloads_started, downloads_completed, downloads_failed,
               streams_started, purchases, revenue_minor, currency, distinct_users
        from realtime.content_region_minute_stats""")  # fmt: skip
    got = {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}
    assert got == want
    assert sum(v[6] for v in want.values()) > 0  # there was revenue


def test_cdn_node_minutes_equal_the_independent_computation(analysed):
    want = expected.cdn_node_minutes(analysed["on_time"])
    rows = query(analysed["dsn"], """
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
    rows = query(analysed["dsn"], """
        select trend_scope, window_end, rank_no, content_id, events, recent_events, earlier_events, score
        from realtime.trending""")  # fmt: skip
    got = {(r[0], r[1], r[2]): _approx(r[3:]) for r in rows}
    assert len(got) == len(want) > 100
    assert got == want


def test_late_events_are_counted_not_dropped(analysed):
    late = analysed["late"]
    # The oracle's classification agrees with how the data was made: late = exactly the second phase.
    assert len(late) == LATE_EVENTS
    assert set(zip(late["partition"], late["offset"], strict=True)) == set(
        zip(analysed["phase_two"]["partition"], analysed["phase_two"]["offset"], strict=True)
    )
    want = {expected.ts(int(m)): n for m, n in late.groupby("minute_ms").size().items()}
    got = dict(query(analysed["dsn"], "select event_minute, late_events from realtime.late_events_minute"))
    assert got == want
    records = query(analysed["dsn"], "select kafka_partition, kafka_offset from realtime.late_events")
    assert set(records) == set(zip(late["partition"], late["offset"], strict=True))


def test_anomaly_tables_equal_the_pattern_semantics(analysed):
    opened, resolved = expected.expected_anomalies(analysed["on_time"], analysed["isolated"].settings)
    alerts = query(
        analysed["dsn"], "select anomaly_kind, subject, started_at, detected_at, peak_value from realtime.cdn_alerts"
    )
    incidents = query(
        analysed["dsn"],
        "select anomaly_kind, subject, started_at, ended_at, bad_minutes, peak_value from realtime.cdn_incidents",
    )
    assert {(a[0], a[1], a[2]): _approx(a[3:]) for a in alerts} == opened
    assert {(i[0], i[1], i[2]): _approx(i[3:]) for i in incidents} == resolved


def test_anomaly_detection_quality_against_the_labels(analysed):
    """Recall and precision >= 95% against the generator's ground truth; detection within 3 minutes."""
    dsn = analysed["dsn"]
    run_id = analysed["run_id"]
    labels = query(
        dsn,
        "select kind, target, starts_at, ends_at from ground_truth.incidents"
        f" where run_id = '{run_id}' and kind in ('cdn_outage', 'latency_degradation', 'regional_outage')",
    )
    anomalies = query(dsn, "select anomaly_kind, subject, region, started_at, detected_at from realtime.cdn_anomalies")
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
