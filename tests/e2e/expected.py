"""The independent computation used by the end-to-end tests: it lives in `flink_jobs.oracle` (the
reconciliation CLI and the chaos benchmark use the same code); this module keeps the tests' import."""

from __future__ import annotations

from flink_jobs.oracle import (  # noqa: F401 - re-exported for the tests
    MINUTE,
    REQUESTS,
    anomalies,
    cdn_node_minutes,
    cdn_region_minutes,
    classify,
    content_minute_stats,
    content_region_minute_stats,
    counted,
    end_offsets,
    expected_anomalies,
    read_events,
    read_topic,
    trending,
    ts,
)
