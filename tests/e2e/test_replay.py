"""Replay for bug fixes: the same job, bounded, reprocesses the topic with a changed anomaly rule into a
versioned schema; the diff shows exactly the anomalies the new rule adds or removes (and nothing else);
promotion puts them into realtime.* in one transaction and keeps the replaced rows for rollback."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from flink_jobs import oracle, replay
from flink_jobs.reconcile import reconcile
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from orchestration.resources import FlinkResource, KafkaResource, PostgresResource
from orchestration.streaming.replay import replay_time_range
from tests.e2e.helpers import T0, ms, send_clock

# Two bounded runs of the job, one after the other: minutes on a loaded 2-core machine.
pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

MINUTES = 8
# The changed rule: an edge node's minute is bad from 60% errors (was 10%), p95 TTFB from 2 s (was 600 ms).
NEW_RULE = {"anomaly_error_rate_threshold": "0.6", "anomaly_latency_p95_threshold_ms": "2000"}


def test_replay_with_a_changed_rule_shows_the_diff_and_promotes(isolated):
    settings = isolated.scoped_settings()
    run_generator(
        settings,
        RunConfig(rate=150, duration_s=MINUTES * 60, seed=909, start_ms=ms(T0), max_speed=True, record_labels=False,
                  scenarios=load(["cdn_outage:node=edge-de-fra-1,start=60,duration=240",
                                  "latency_degradation:node=edge-jp-tyo-1,start=120,duration=240",
                                  "out_of_order:fraction=0.05,max_delay=3,start=0,duration=480"])),
    )  # fmt: skip
    producer = EventProducer(settings, isolated.topic)
    send_clock(producer, T0 + timedelta(minutes=MINUTES, seconds=10))
    producer.flush()
    start, end = T0, T0 + timedelta(minutes=MINUTES)

    events = oracle.read_events(settings, isolated.topic)
    events = events[events["minute_ms"] < ms(end)]
    new_settings = settings.model_copy(update={k: float(v) for k, v in NEW_RULE.items()})
    old_alerts, old_incidents = oracle.expected_anomalies(events, settings)
    new_alerts, new_incidents = oracle.expected_anomalies(events, new_settings)
    assert old_alerts.keys() != new_alerts.keys(), "the rule change must matter for this data"

    # Today's rules first, from the library as the CLI runs it: promoted into the empty live tables, this
    # replay plays the live job's results.
    first = replay.run_replay(settings, {}, isolated.topic, isolated.database)
    replay.promote(settings, first.version, start, end, isolated.database)
    assert reconcile(settings, isolated.topic, isolated.database, start, end).ok

    # The changed rule as an operator launches it: the Dagster job `replay_time_range` with config.
    resources = {
        "kafka": KafkaResource(bootstrap_servers=settings.bootstrap_servers, events_topic=isolated.topic,
                               alerts_topic=isolated.alerts_topic),
        "postgres": PostgresResource(database=isolated.database),
        "flink": FlinkResource(rest_url=settings.flink_url),
    }  # fmt: skip
    config = {"start": start.isoformat(), "end": end.isoformat(), "overrides": NEW_RULE, "promote": False}
    launched = replay_time_range.execute_in_process(
        run_config={"ops": {"replay_range": {"config": config}}}, resources=resources
    )
    assert launched.success
    output = launched.output_for_node("replay_range")
    version, schema = output["version"], output["schema"]
    assert version == first.version + 1 and schema == replay.schema_of(version) and output["promoted"] is None

    # Only the anomaly tables differ, exactly by what the rule changes.
    diffs = {d.table: d for d in replay.diff_versions(settings, version, start, end, isolated.database)}
    report = replay.render_diff(version, start, end, list(diffs.values()))
    print(report)
    assert output["report"] == report  # what the Dagster run logged
    changed = {t for t, d in diffs.items() if not d.ok}
    assert changed <= {"cdn_alerts", "cdn_incidents"} and "cdn_alerts" in changed, report
    alerts = diffs["cdn_alerts"]
    assert {k for k, _ in alerts.missing} == old_alerts.keys() - new_alerts.keys()
    assert {k for k, _ in alerts.extra} == new_alerts.keys() - old_alerts.keys()
    assert "cdn_alerts" in report and ("gone" in report or "new" in report)

    counts = replay.promote(settings, version, start, end, isolated.database)
    assert counts["cdn_alerts"]["promoted"] == len(new_alerts)
    # The live tables now hold the new rule's results, every other table unchanged (reconciled to Kafka).
    assert reconcile(new_settings, isolated.topic, isolated.database, start, end).ok
    with psycopg.connect(isolated.dsn()) as conn:
        live = {r[:3] for r in conn.execute("select anomaly_kind, subject, started_at from realtime.cdn_alerts")}
        kept_sql = f"select anomaly_kind, subject, started_at from {schema}_replaced.cdn_alerts"
        kept = {r[:3] for r in conn.execute(kept_sql)}
        info = conn.execute(f"select overrides, jsonb_array_length(promoted) from {schema}.replay_info").fetchone()
    assert live == set(new_alerts) and kept == set(old_alerts)
    assert info == (NEW_RULE, 1)
