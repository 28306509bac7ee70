"""Known answers for the oracle (flink_jobs.oracle): small inputs whose results are worked out by hand
here, so the reconciliation's reference does not share the job's assumptions untested."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest

from flink_jobs import oracle

T0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
S = 1000
DELAY = 5 * S


def _events(rows: list[dict]) -> pd.DataFrame:
    base = {"event_type": "DOWNLOAD_STARTED", "content_id": "c1", "region": "DE", "cdn_node": "n1", "user_id": "u1",
            "bytes_sent": 0, "ttfb_ms": 0, "throughput_kbps": 0, "error_code": None, "price_minor": None,
            "currency": None}  # fmt: skip
    frame = pd.DataFrame([base | r for r in rows])
    frame["minute_ms"] = frame["event_ms"] // oracle.MINUTE * oracle.MINUTE
    return frame


def test_lateness_follows_each_partitions_own_clock():
    # Partition 0 runs to 1:10; partition 1 stays at 0:30. A 0:50 event is late in partition 0 (its clock,
    # 1:10 - 5 s, has passed 0:59.999) but on time in partition 1, whatever the other partition did.
    events = _events([
        {"partition": 0, "offset": 0, "event_id": 1, "event_ms": T0 + 10 * S},
        {"partition": 0, "offset": 1, "event_id": 2, "event_ms": T0 + 70 * S},
        {"partition": 0, "offset": 2, "event_id": 3, "event_ms": T0 + 50 * S},
        {"partition": 1, "offset": 0, "event_id": 4, "event_ms": T0 + 30 * S},
        {"partition": 1, "offset": 1, "event_id": 5, "event_ms": T0 + 50 * S},
    ])  # fmt: skip
    got = oracle.classify(events, DELAY).set_index("event_id")["late"].to_dict()
    assert got == {1: False, 2: False, 3: True, 4: False, 5: False}


def test_the_window_closes_at_its_end_minus_one_millisecond():
    # Clock - delay = 0:59.999 closes [0:00, 1:00): Flink fires a window when the watermark reaches end - 1 ms.
    events = _events([
        {"partition": 0, "offset": 0, "event_id": 1, "event_ms": T0 + 60 * S + DELAY - 2},
        {"partition": 0, "offset": 1, "event_id": 2, "event_ms": T0 + 59 * S},
        {"partition": 0, "offset": 2, "event_id": 3, "event_ms": T0 + 60 * S + DELAY - 1},
        {"partition": 0, "offset": 3, "event_id": 4, "event_ms": T0 + 59 * S},
    ])  # fmt: skip
    got = oracle.classify(events, DELAY).set_index("event_id")["late"].to_dict()
    assert got == {1: False, 2: False, 3: False, 4: True}


def test_an_on_time_retry_counts_once_and_a_late_one_is_late():
    events = _events([
        {"partition": 0, "offset": 0, "event_id": 7, "event_ms": T0 + 20 * S},
        {"partition": 0, "offset": 1, "event_id": 7, "event_ms": T0 + 20 * S},  # retry, on time
        {"partition": 0, "offset": 2, "event_id": 8, "event_ms": T0 + 90 * S},
        {"partition": 0, "offset": 3, "event_id": 7, "event_ms": T0 + 20 * S},  # retry after the window closed
    ])  # fmt: skip
    classified = oracle.classify(events, DELAY).set_index("offset")
    assert classified["duplicate"].to_dict() == {0: False, 1: True, 2: False, 3: False}
    assert classified["late"].to_dict() == {0: False, 1: False, 2: False, 3: True}
    assert sorted(oracle.counted(classified.reset_index())["offset"]) == [0, 2]


def test_content_minute_stats_by_hand():
    # Four events of c1 in minute 0 by two users; TTFB 100, 200, 300, 400 (and one 0, which is no fetch).
    # p95 with linear interpolation over [100, 200, 300, 400]: 300 + 0.85 * 100 = 385.
    rows = [
        {"event_type": "DOWNLOAD_COMPLETED", "user_id": "u1", "ttfb_ms": 100, "bytes_sent": 10},
        {"event_type": "DOWNLOAD_COMPLETED", "user_id": "u2", "ttfb_ms": 200, "bytes_sent": 20},
        {"event_type": "STREAM_STARTED", "user_id": "u1", "ttfb_ms": 300, "bytes_sent": 30},
        {"event_type": "DOWNLOAD_FAILED", "user_id": "u2", "ttfb_ms": 400, "bytes_sent": 0},
        {"event_type": "PURCHASE", "user_id": "u2", "ttfb_ms": 0, "bytes_sent": 0},
    ]
    events = _events([r | {"partition": 0, "offset": i, "event_id": i, "event_ms": T0 + i * S}
                      for i, r in enumerate(rows)])  # fmt: skip
    got = oracle.content_minute_stats(events)
    window = datetime.fromtimestamp(T0 / 1000, tz=timezone.utc)
    events_, ds, dc, df, ss, se, pu, sent, users, avg, p95 = got[("c1", window)]
    assert (events_, ds, dc, df, ss, se, pu, sent, users) == (5, 0, 2, 1, 1, 0, 1, 60, 2)
    assert avg == pytest.approx(250.0)
    assert p95 == pytest.approx(385.0)


def test_cdn_minutes_by_hand():
    # Requests are downloads completed/failed and stream starts: 3 here, 1 with an error.
    # p50 of [100, 200, 300] = 200; error rate 1/3.
    rows = [
        {"event_type": "DOWNLOAD_COMPLETED", "ttfb_ms": 100, "throughput_kbps": 1000},
        {"event_type": "DOWNLOAD_FAILED", "ttfb_ms": 300, "error_code": "E503", "throughput_kbps": 0},
        {"event_type": "STREAM_STARTED", "ttfb_ms": 200, "throughput_kbps": 3000},
        {"event_type": "DOWNLOAD_STARTED", "ttfb_ms": 0},
    ]
    events = _events([r | {"partition": 0, "offset": i, "event_id": i, "event_ms": T0 + i * S}
                      for i, r in enumerate(rows)])  # fmt: skip
    row = oracle.cdn_node_minutes(events).iloc[0]
    assert (row["requests"], row["errors"]) == (3, 1)
    assert row["error_rate"] == pytest.approx(1 / 3)
    assert row["ttfb_p50_ms"] == pytest.approx(200.0)
    assert row["throughput_avg_kbps"] == pytest.approx(2000.0)  # zero throughput is no measurement


def test_anomaly_runs_by_hand():
    # good, bad x4, good: one alert at the third bad minute, one incident of 4 minutes.
    minutes = pd.DataFrame({"subject": ["n1"] * 6, "minute_ms": [T0 + i * oracle.MINUTE for i in range(6)],
                            "error_rate": [0.0, 0.5, 0.6, 0.7, 0.2, 0.0]})  # fmt: skip
    bad = pd.Series([False, True, True, True, True, False])
    opened, resolved = oracle.anomalies(minutes, bad, "ERROR_RATE", "error_rate")
    start = oracle.ts(T0 + oracle.MINUTE)
    assert opened == {("ERROR_RATE", "n1", start): (oracle.ts(T0 + 4 * oracle.MINUTE), 0.7)}
    assert resolved == {("ERROR_RATE", "n1", start): (oracle.ts(T0 + 5 * oracle.MINUTE), 4, 0.7)}


def test_a_topic_read_once_is_classified_once():
    events = _events([{"partition": 0, "offset": 0, "event_id": 1, "event_ms": T0 + 10 * S}])
    records = oracle.TopicRecords(events)
    first = records.classified(DELAY)
    assert records.classified(DELAY) is first
    assert first.equals(oracle.classify(events, DELAY))
