"""Benchmark: the chaos suite, long form. Each fault hits the job while it processes its own segment of at
least a million events; per fault it reports the time to recover and the events lost and doubled, from a
reconciliation of that segment's event-time range against the Kafka topic (flink_jobs.reconcile).

One job, one topic, one database; the segments follow each other in event time (SEGMENT_RATE events per
second of event time), each produced at full speed, so the job is catching up (under load) when the fault
hits. Faults: TaskManager kill -9, JobManager kill -9 (the restarted JobManager recovers the job from
ZooKeeper HA and its newest checkpoint), Kafka broker restart, PostgreSQL restart, generator kill -9 and
restart, corrupt records. It kills and restarts components of the stack it runs against: use a stack of
your own (STREAMPULSE_STATE_DIR and other ports).

    .venv/bin/python bench/chaos.py [--events-per-fault 1000000] [--rounds 3] [--faults taskmanager,jobmanager,...]

Writes bench/results/chaos.json and prints one SUMMARY line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import oracle  # noqa: E402
from flink_jobs.reconcile import reconcile  # noqa: E402
from generator.producer import EventProducer  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import get_settings  # noqa: E402
from tests import chaos  # noqa: E402
from tests.conftest import Isolated, _drop  # noqa: E402
from tests.e2e.helpers import send_clock  # noqa: E402

T0 = datetime(2026, 2, 1, tzinfo=timezone.utc)
SEGMENT_RATE = 2_000  # events per second of event time (segments are rounded up to whole minutes)
FAULTS = ("taskmanager", "jobmanager", "kafka", "postgres", "generator", "corrupt")
CORRUPT = [b"\x7bnot avro", b"\x00\x00\x0f\x42\x3f\x00", b"\x00\x00\x00\x00\x01\x02", b"\x00\x00"]


def produce(settings, topic: str, start: datetime, count: int, seed: int) -> subprocess.Popen:  # noqa: ANN001
    cmd = [sys.executable, "-m", "generator", "--rate", str(SEGMENT_RATE), "--count", str(count), "--seed", str(seed),
           "--start", start.strftime("%Y-%m-%dT%H:%M:%S"), "--max-speed", "--topic", topic, "--no-labels",
           "--quiet"]  # fmt: skip
    log = (settings.log_dir / "bench-chaos-generator.log").open("a")
    return subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def topic_records(settings, topic: str) -> int:  # noqa: ANN001
    return sum(oracle.end_offsets(settings, topic))


def committed(settings, topic: str, group: str) -> int:  # noqa: ANN001
    """Offsets the job's consumer group has committed (Flink commits them at each checkpoint)."""
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(len(oracle.end_offsets(settings, topic)))]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def wait_until(predicate, what: str, timeout_s: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - a component may be restarting
            pass
        time.sleep(2)
    raise TimeoutError(f"timed out waiting for {what}")


class _Wrapped:
    """The segment's generator process, with the kill the fault needs."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def wait(self) -> None:
        self.process.wait(timeout=60)


def inject(fault: str, job: chaos.Job, generator: _Wrapped, segment: dict) -> tuple[chaos.Recovery, dict]:
    """Hit the job with one fault; return when it is recovered: (seconds, details)."""
    settings = job.settings
    fault_at = time.time()
    details: dict = {}
    if fault == "taskmanager":
        pid = chaos.kill9(settings, "flink-taskmanager")
        chaos.wait_component(settings, "flink-taskmanager", pid)
    elif fault == "jobmanager":
        pid = chaos.kill9(settings, "flink-jobmanager")
        chaos.wait_component(settings, "flink-jobmanager", pid)
        details["recovered_by"] = "the restarted JobManager (ZooKeeper HA), same job id"
    elif fault in ("kafka", "postgres"):
        chaos.restart(settings, fault)
        details["component_back_s"] = round(time.time() - fault_at, 1)
    elif fault == "generator":
        generator.kill()
        generator.wait()
        # Restart where the killed run cannot have reached: later event time, new seed (a redeployed producer).
        rest = segment["count"] - int(segment["count"] * 0.6)
        segment["restarted"] = produce(settings, job.topic, segment["start"] + segment["span"] * 0.6, rest, 99)
    elif fault == "corrupt":
        raw = Producer({"bootstrap.servers": settings.bootstrap_servers})
        for i in range(1000):
            raw.produce(job.topic, CORRUPT[i % len(CORRUPT)], partition=i % 3)
        raw.flush()
        details["corrupt_records"] = 1000
    return chaos.wait_recovered(job, fault_at, timeout_s=600), details


def run_round(settings, faults: list[str], events_per_fault: int, round_no: int) -> list[dict]:  # noqa: ANN001
    """One job on a topic and database of its own; each fault on its own segment; each segment reconciled."""
    suffix = uuid.uuid4().hex[:6]
    iso = Isolated(settings, f"bench-chaos-{suffix}", f"bench_chaos_{suffix}", f"bench-chaos-{suffix}")
    topic, database = iso.topic, iso.database
    bootstrap.ensure_database(settings, database)
    bootstrap.apply_migrations(settings, database)
    bootstrap.ensure_topic(settings, topic, partitions=3)
    bootstrap.ensure_topic(settings, iso.alerts_topic, partitions=1)
    job = chaos.Job(settings, iso.job_name, topic, database, iso.alerts_topic)
    job.submit()
    results: list[dict] = []
    span = timedelta(minutes=math.ceil(events_per_fault / SEGMENT_RATE / 60))
    try:
        for i, fault in enumerate(faults):
            segment = {"start": T0 + i * span, "span": span, "count": events_per_fault}
            before = topic_records(settings, topic)
            count = int(events_per_fault * (0.6 if fault == "generator" else 1))
            generator = produce(settings, topic, segment["start"], count, seed=10 + i + 100 * round_no)
            # Hit the job while it is busy with this segment: a third of it is in Kafka.
            wait_until(lambda b=before: topic_records(settings, topic) - b >= events_per_fault // 3,
                       "a third of the segment in Kafka", 600)  # fmt: skip
            print(f"[round {round_no} {fault}] injecting at {topic_records(settings, topic) - before} events of the "
                  "segment", flush=True)  # fmt: skip
            recovered, details = inject(fault, job, _Wrapped(generator), segment)
            print(f"[round {round_no} {fault}] processing again after {recovered.resumed_s} s, checkpointed after "
                  f"{recovered.checkpointed_s} s {details}", flush=True)  # fmt: skip
            for proc in (generator, segment.get("restarted")):
                if proc is not None:
                    proc.wait(timeout=1800)
            wait_until(lambda: committed(settings, topic, job.name) >= topic_records(settings, topic),
                       "the job to catch up (committed offsets at the end)", 1800)  # fmt: skip
            results.append({"round": round_no, "fault": fault, "resumed_s": recovered.resumed_s,
                            "recovered_s": recovered.checkpointed_s, "segment_start": segment["start"],
                            "segment_end": segment["start"] + span, **details})  # fmt: skip
        producer = EventProducer(settings, topic)
        send_clock(producer, T0 + len(faults) * span + timedelta(seconds=30))
        producer.flush()
        last = results[-1]
        records = oracle.read_topic(settings, topic)  # once: a million events take ~1.5 GB in memory
        last_ok = lambda: reconcile(settings, topic, database, last["segment_start"], last["segment_end"],  # noqa: E731
                                    records=records).ok  # fmt: skip
        try:  # until the job has written the last segment's windows; a difference that stays is reported below
            wait_until(last_ok, "the last segment's windows to be written", 300)
        except TimeoutError:
            pass
        for r in results:
            end = min(r["segment_end"], T0 + len(faults) * span)
            report = reconcile(settings, topic, database, r["segment_start"], end, records=records)
            print(report.render(), flush=True)
            r.update(events=report.kafka_events, lost=report.lost, doubled=report.doubled, reconciled=report.ok,
                     differing_rows=sum(len(t.missing) + len(t.extra) + len(t.differing) for t in report.tables),
                     dead_letters_ok=report.dead_letters.ok)  # fmt: skip
            r["segment_start"], r["segment_end"] = r["segment_start"].isoformat(), r["segment_end"].isoformat()
    finally:
        job.cancel()
        _drop(settings, iso)  # the round's database and both topics (6M events): nothing left behind
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-fault", type=int, default=1_000_000)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--rounds", type=int, default=3, help="every fault this many times (medians reported)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "chaos.json")
    args = parser.parse_args()
    settings = get_settings()
    faults = [f for f in args.faults.split(",") if f]
    results: list[dict] = []
    for round_no in range(1, args.rounds + 1):
        results += run_round(settings, faults, args.events_per_fault, round_no)
    per_fault = {}
    for fault in faults:
        runs = [r for r in results if r["fault"] == fault]
        per_fault[fault] = {
            "runs": len(runs),
            "resumed_s_median": statistics.median(r["resumed_s"] for r in runs),
            "recovered_s_median": statistics.median(r["recovered_s"] for r in runs),
            "recovered_s_max": max(r["recovered_s"] for r in runs),
            "events": sum(r["events"] for r in runs),
            "lost": sum(r["lost"] for r in runs),
            "doubled": sum(r["doubled"] for r in runs),
            "all_reconciled": all(r["reconciled"] for r in runs),
        }
    result = {
        "benchmark": "chaos",
        "when": datetime.now(timezone.utc).isoformat(),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "events_per_fault": args.events_per_fault,
        "rounds": args.rounds,
        "per_fault": per_fault,
        "runs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str))
    for fault, f in per_fault.items():
        print(f"{fault:<12} median processing again {f['resumed_s_median']:5.1f} s, checkpointed "
              f"{f['recovered_s_median']:5.1f} s (max {f['recovered_s_max']:5.1f} s) over {f['runs']} runs; "
              f"{f['events']:,} events, lost {f['lost']}, doubled {f['doubled']}")  # fmt: skip
    print(
        f"SUMMARY chaos ({os.cpu_count()} cores): {len(faults)} faults x {args.rounds} rounds x "
        f"{args.events_per_fault:,} events; median time to checkpointed recovery "
        + ", ".join(f"{k} {v['recovered_s_median']} s" for k, v in per_fault.items())
        + f"; lost {sum(r['lost'] for r in results)}, doubled {sum(r['doubled'] for r in results)}, "
        + f"all reconciled: {all(r['reconciled'] for r in results)}"
    )


if __name__ == "__main__":
    main()
