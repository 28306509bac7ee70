"""Chaos suite, short form: crashes (SIGKILL, never a polite stop) under load on a job with its own topic
and database, each followed by recovery without a person, then one reconciliation of everything the job
wrote against the Kafka topic: every row of every table compared, nothing skipped, nothing lost, nothing
doubled, no on-time event taken as late. The load carries the hard cases: incidents, late events and
client retries; the generator itself is killed mid-batch and resumes the same stream.
Recovery times land in <state>/chaos_short.json (long form: bench/chaos.py).

It kills shared components (Kafka, PostgreSQL, the registry, ZooKeeper, the JobManager), so it runs late
(zz) like test_zz_restart.py. Iterate on it against a second stack (STREAMPULSE_STATE_DIR and other ports).
The TaskManager crash is tests/e2e/test_recovery.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Iterator

import psycopg
import pytest
from confluent_kafka import Producer

from flink_jobs.reconcile import reconcile
from generator.events import make_event
from generator.producer import EventProducer
from streampulse.settings import Settings
from streampulse.stack.supervisor import Supervisor
from streampulse.waiting import wait_until
from tests import chaos
from tests.conftest import _drop, _isolate

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]  # module set-up + a resubmission

RATE = 200  # events per second, event time = now
# Each fault must be recovered from within this. The goal is 30 s (the long form, bench/chaos.py, reports
# against it); the bound here is looser because CI machines are shared and a loaded 2-core machine can take
# several times longer to start a JVM.
BOUND_S = float(os.environ.get("STREAMPULSE_CHAOS_BOUND_S", "180"))
RECOVERY: dict[str, dict] = {}


@pytest.fixture(scope="module")
def chaos_job(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[chaos.Job, chaos.Generator]]:
    if not Supervisor(stack).info("flink-jobmanager") or not Supervisor(stack).info("kafka"):
        pytest.skip("Kafka and Flink are not managed by this stack (external clusters)")
    iso = _isolate(stack, prefix="chaos")
    job = chaos.Job(stack, iso.job_name, iso.topic, iso.database, iso.alerts_topic)
    job.submit()
    log = tmp_path_factory.mktemp("chaos") / "generator.log"
    generator = chaos.Generator(stack, iso.topic, RATE, log, database=iso.database, scenarios=chaos.hard_cases())
    generator.start()
    RECOVERY["load_started_at"] = time.time()
    try:
        # The baseline: the generator producing (a fault during its start-up check would stop it), then the
        # job running and checkpointed.
        wait_until(lambda: chaos.topic_records(stack, iso.topic) >= 5 * RATE, "the generator producing", 300)
        chaos.wait_recovered(job, time.time(), timeout_s=600)
        yield job, generator
    finally:
        generator.stop()
        job.cancel()
        out = stack.state_dir / "chaos_short.json"
        out.write_text(json.dumps(RECOVERY, indent=2))
        print(
            f"\nchaos recovery (s): { {k: v.get('recovered_s') for k, v in RECOVERY.items() if isinstance(v, dict)} }"
            f" -> {out}"
        )
        _drop(stack, iso)


def _record(name: str, recovery: chaos.Recovery, **extra: object) -> None:
    RECOVERY[name] = {"resumed_s": recovery.resumed_s, "recovered_s": recovery.checkpointed_s, **extra}
    print(f"\n[chaos] {name}: {RECOVERY[name]}", flush=True)
    assert recovery.checkpointed_s < BOUND_S, (name, recovery)


def _kill9_and_recover(job: chaos.Job, component: str) -> tuple[chaos.Recovery, float]:
    fault = time.time()
    pid = chaos.kill9(job.settings, component)
    chaos.wait_component(job.settings, component, pid)
    back = time.time() - fault
    return chaos.wait_recovered(job, fault, BOUND_S + 60), back


def test_kafka_broker_kill9(chaos_job):
    job, generator = chaos_job
    recovery, back = _kill9_and_recover(job, "kafka")
    assert generator.process.poll() is None, "the producer must ride out a broker crash (it retries)"
    _record("kafka_kill9", recovery, broker_back_s=round(back, 1))


def test_postgres_kill9(chaos_job):
    job, _ = chaos_job
    recovery, back = _kill9_and_recover(job, "postgres")
    _record("postgres_kill9", recovery, postgres_back_s=round(back, 1))


def test_schema_registry_kill9(chaos_job):
    job, _ = chaos_job
    recovery, back = _kill9_and_recover(job, "registry")
    _record("registry_kill9", recovery, registry_back_s=round(back, 1))


def test_zookeeper_kill9(chaos_job):
    job, _ = chaos_job
    if not Supervisor(job.settings).info("zookeeper"):
        pytest.skip("no ZooKeeper in this stack (Flink HA off)")
    old_id = job.job_id
    recovery, back = _kill9_and_recover(job, "zookeeper")
    assert job.job_id == old_id
    _record("zookeeper_kill9", recovery, zookeeper_back_s=round(back, 1))


def test_generator_kill9_mid_batch_and_resume(chaos_job):
    job, generator = chaos_job
    fault = time.time()
    generator.kill()
    time.sleep(3)
    generator.start()  # the same stream from its last confirmed batch: the events after it are sent again
    _record("generator_kill9", chaos.wait_recovered(job, fault))


def test_corrupt_records_are_dead_lettered_without_a_restart(chaos_job):
    job, _ = chaos_job
    valid = EventProducer(job.settings, job.topic).encode(make_event(random.Random(3), int(time.time() * 1000), "x"))
    bad = [b"\x7bnot avro", b"\x00\x00\x0f\x42\x3f" + valid[5:], valid[:20], valid + b"\x02\x04", b"\x00\x00"]
    raw = Producer({"bootstrap.servers": job.settings.bootstrap_servers})
    fault = time.time()
    for i, payload in enumerate(bad):
        raw.produce(job.topic, payload, partition=i % 3)
    raw.flush()

    def dead_lettered_all() -> bool:
        with psycopg.connect(job.settings.dsn(job.database)) as conn:
            return conn.execute("select count(*) from realtime.dead_letters").fetchone()[0] >= len(bad)

    wait_until(dead_lettered_all, "the corrupt records in realtime.dead_letters", 60, interval_s=0.5)
    dead_lettered = time.time() - fault
    exceptions = job.flink.exceptions(job.job_id)
    since = [e for e in exceptions.get("exceptionHistory", {}).get("entries", []) if e["timestamp"] >= fault * 1000]
    assert not since, f"a corrupt record restarted the job: {since[0]['exceptionName']}" if since else ""
    _record("corrupt_records", chaos.wait_recovered(job, fault), dead_lettered_s=round(dead_lettered, 1))


def test_jobmanager_kill9_job_recovered_by_the_new_jobmanager(chaos_job):
    job, _ = chaos_job
    if not job.settings.flink_high_availability:
        pytest.skip("Flink HA is switched off: a lost job is resubmitted by the Dagster sensor (test_dagster_ops)")
    old_id = job.job_id
    fault = time.time()
    pid = chaos.kill9(job.settings, "flink-jobmanager")
    chaos.wait_component(job.settings, "flink-jobmanager", pid)
    # ZooKeeper HA: the restarted JobManager finds the job graph and its newest checkpoint by itself.
    recovered = chaos.wait_recovered(job, fault, timeout_s=BOUND_S + 60)
    assert job.job_id == old_id
    restored = job.flink.checkpoints(job.job_id)["latest"]["restored"]
    assert restored and not restored["is_savepoint"], restored
    _record("jobmanager_kill9", recovered, restored_from=restored["external_path"])


def test_reconciliation_after_all_faults_nothing_lost_nothing_doubled(chaos_job):
    job, generator = chaos_job
    # The incidents (minutes 1-3 of the stream) resolved at minute 4, which closes once the partitions' clocks
    # pass 5:05 of event time: 6 minutes of load leave a margin for a producer that fell behind.
    time.sleep(max(0.0, RECOVERY.pop("load_started_at") + 360 - time.time()))
    generator.stop()
    reports = []

    def reconciled() -> bool:  # until the job has written every window the watermark has closed
        reports.append(reconcile(job.settings, job.topic, job.database))
        return reports[-1].ok

    with contextlib.suppress(TimeoutError):  # a difference that stays is shown by the assertions below
        wait_until(reconciled, "a clean reconciliation", 120, interval_s=5)
    report = reports[-1]
    print(report.render())
    RECOVERY["reconciliation"] = report.summary() | {"start": report.start.isoformat(), "end": report.end.isoformat()}
    assert report.ok, report.render()
    assert report.kafka_events > RATE * 60 and report.lost == 0 and report.doubled == 0
    assert report.rows_skipped == 0 and report.misclassified_late == 0
    assert report.late_events > 0 and report.duplicates > 0  # the hard cases were there and were compared
    compared = {t.table: t.compared for t in report.tables}
    # The load's incidents opened and resolved anomalies inside the reconciled range: a node outage, a latency
    # degradation and a regional outage (which also fails the region's two nodes): 5 alerts, 5 incidents.
    assert compared["cdn_alerts"] >= 3 and compared["cdn_incidents"] >= 3, (compared, report.start, report.end)
    assert report.dead_letters.compared == 5
    # The check can fail: remove one row and it says so.
    with psycopg.connect(job.settings.dsn(job.database), autocommit=True) as conn:
        conn.execute("delete from realtime.content_minute_stats where ctid = (select min(ctid) from"
                     " realtime.content_minute_stats where window_start >= %s)", (report.start,))  # fmt: skip
    tampered = reconcile(job.settings, job.topic, job.database, report.start, report.end)
    assert not tampered.ok and tampered.lost > 0
