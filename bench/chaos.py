"""Benchmark: the chaos suite, long form. Each fault is a crash (SIGKILL) that hits the job while it processes
its own segment of at least a million events; per fault it reports the time to recover and, from a
reconciliation of that segment against the Kafka topic (flink_jobs.reconcile, every row of every table,
nothing skipped), the events lost, doubled and misclassified as late.

One job, one topic, one database per round; the segments follow each other in event time (SEGMENT_RATE
events per second of event time), each produced at full speed, so the job is catching up (under load) when
the fault hits. Every segment carries the hard cases: an edge-node outage, a latency degradation and a
regional outage, 3% late events (60-150 s) and 1% client retries.

Faults (all SIGKILL of the whole process group, like a machine losing the process):
  taskmanager, jobmanager (ZooKeeper HA: the restarted JobManager recovers the job), kafka (the broker;
  with STREAMPULSE_KAFKA_BROKERS=3 one of three, replication 3, min ISR 2), postgres (the postmaster and
  its backends), registry, zookeeper (with STREAMPULSE_ZOOKEEPER_NODES=3 the ensemble's leader), dagster
  (the job is cancelled, and the Dagster daemon is killed while it redeploys it; the restarted daemon's
  sensor redeploys it from the newest checkpoint), generator (killed mid-batch, then resumed on the same
  stream: its unconfirmed batches are sent again), corrupt (1,000 undecodable records).

On one machine the load competes with the platform for the CPU. The generator stands for clients on other
machines, so it runs at the TaskManagers' priority (nice, `flink_taskmanager_nice`), below the control plane.

It kills components of the stack it runs against: use a stack of your own (STREAMPULSE_STATE_DIR and
other ports), not one other work shares.

    .venv/bin/python bench/chaos.py [--events-per-fault 1000000] [--rounds 3] [--faults taskmanager,...]

Writes bench/results/chaos.json (per fault: lost, doubled, misclassified_late, rows_compared, rows_skipped,
recovered_s_median, recovered_s_max) and prints one SUMMARY line.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
from confluent_kafka import Consumer, Producer, TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import oracle  # noqa: E402
from flink_jobs.reconcile import reconcile  # noqa: E402
from generator.producer import EventProducer  # noqa: E402
from streampulse import bootstrap, waiting  # noqa: E402
from streampulse.settings import Settings, get_settings  # noqa: E402
from streampulse.stack.components import node_name  # noqa: E402
from tests import chaos  # noqa: E402
from tests.conftest import Isolated, _drop  # noqa: E402
from tests.e2e.helpers import send_clock  # noqa: E402

T0 = datetime(2026, 2, 1, tzinfo=timezone.utc)
SEGMENT_RATE = 2_000  # events per second of event time (segments are rounded up to whole minutes)
FAULTS = ("taskmanager", "jobmanager", "kafka", "postgres", "registry", "zookeeper", "dagster", "generator", "corrupt")
COMPONENT = {"taskmanager": "flink-taskmanager", "jobmanager": "flink-jobmanager", "kafka": "kafka",
             "postgres": "postgres", "registry": "registry", "zookeeper": "zookeeper"}  # fmt: skip
CORRUPT = [b"\x7bnot avro", b"\x00\x00\x0f\x42\x3f\x00", b"\x00\x00\x00\x00\x01\x02", b"\x00\x00"]


def committed(settings: Settings, topic: str, group: str) -> int:
    """Offsets the job's consumer group has committed (Flink commits them at each checkpoint)."""
    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(len(oracle.end_offsets(settings, topic)))]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


def wait_until(predicate, what: str, timeout_s: float) -> None:  # noqa: ANN001
    """Any error counts as "not yet": the fault may have a component restarting."""
    waiting.wait_until(predicate, what, timeout_s, interval_s=1, retry_on=(Exception,))


def job_taskmanager(job: chaos.Job) -> str:
    """The component to kill for the TaskManager fault: the one running the job (with standby TaskManagers,
    killing an idle one would prove nothing). Resource ids are the component names (the stack sets them)."""
    vertices = job.flink.job(job.job_id)["vertices"]
    hosts = {
        tm["taskmanager-id"]
        for tm in job.flink.get(f"/jobs/{job.job_id}/vertices/{vertices[0]['id']}/taskmanagers")["taskmanagers"]
    }
    if len(hosts) != 1:
        raise RuntimeError(f"the job's source runs on {sorted(hosts)}: expected one TaskManager")
    return hosts.pop()


def zookeeper_leader(settings: Settings) -> str:
    """The component to kill for the ZooKeeper fault: the only server, or the ensemble's leader (its loss
    forces an election, the harder case)."""
    for node, port in enumerate(settings.zookeeper_ports, start=1):
        with socket.create_connection((settings.bind_host, port), timeout=3) as conn:
            conn.sendall(b"srvr")
            if b"Mode: leader" in conn.recv(4096) or len(settings.zookeeper_ports) == 1:
                return node_name("zookeeper", node)
    raise RuntimeError("no ZooKeeper server says it leads")


def _die_with_parent() -> None:
    """A daemon outliving a killed benchmark would keep redeploying its job (it did, after an OOM kill)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Daemon:
    """A Dagster daemon of the round's own (its sensor watches this round's job), to be crashed mid-redeploy."""

    def __init__(self, settings: Settings, iso: Isolated, log_file: Path) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="bench-chaos-dagster-"))
        # Runs in SQLite under this home; the queue is worked by the daemon, as on the stack.
        (self.home / "dagster.yaml").write_text(
            "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: QueuedRunCoordinator\n"
            "  config:\n    dequeue_interval_seconds: 1\n"
            "telemetry:\n  enabled: false\n"
        )
        self.env = {**os.environ, "DAGSTER_HOME": str(self.home), "STREAMPULSE_EVENTS_TOPIC": iso.topic,
                    "STREAMPULSE_ALERTS_TOPIC": iso.alerts_topic, "STREAMPULSE_DATABASE_NAME": iso.database,
                    "STREAMPULSE_FLINK_JOB_NAME": iso.job_name}  # fmt: skip
        self.log_file, self.process = log_file, None

    def start(self) -> None:
        cmd = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")]
        with self.log_file.open("a") as log:
            self.process = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, preexec_fn=_die_with_parent)  # fmt: skip

    def deploying(self) -> bool:
        """A submission of the job (`python -m flink_jobs.deploy`) runs under this daemon."""
        if self.process is None:
            return False
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "flink_jobs.deploy" in " ".join(child.cmdline()):
                    return True
            except psutil.Error:
                continue
        return False

    def kill(self) -> dict:
        """SIGKILL the daemon's whole session: the daemon, its code server and the run worker deploying the job.

        The Flink client the run worker started runs in a session of its own (flink_jobs.deploy): a submission
        is an outside operation that outlives its caller, as `flink run -d` would. It carries on."""
        if self.process is None or self.process.poll() is not None:
            return {}
        sid = os.getsid(self.process.pid)
        procs = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        killed, spared = [], []
        for p in procs:
            try:
                if os.getsid(p.pid) == sid:
                    p.send_signal(signal.SIGKILL)
                    killed.append(p.name())
                else:
                    spared.append(p.name())
            except (psutil.Error, ProcessLookupError):
                pass
        self.process.wait(timeout=30)
        return {"killed": killed, "left_running": spared}


def follow_job(job: chaos.Job, timeout_s: float) -> None:
    """After a redeploy the job has a new id: find the active job of its name."""

    def found() -> bool:
        active = job.flink.active_job(job.name)
        if active:
            job.job_id = active
        return bool(active)

    wait_until(found, f"an active job named {job.name}", timeout_s)


def inject(fault: str, job: chaos.Job, generator: chaos.Generator, daemon: Daemon | None) -> tuple:
    """Hit the job with one fault; return when it is recovered: (Recovery, details)."""
    settings = job.settings
    details: dict = {}
    if fault in COMPONENT:
        component = COMPONENT[fault]
        if fault == "zookeeper":
            component = zookeeper_leader(settings)
        elif fault == "taskmanager":
            component = job_taskmanager(job)
        details["component"] = component
        fault_at = time.time()
        pid = chaos.kill9(settings, component)
        chaos.wait_component(settings, component, pid)
        details["component_back_s"] = round(time.time() - fault_at, 1)
        if fault == "jobmanager":
            details["recovered_by"] = "the restarted JobManager (ZooKeeper HA), same job id"
    elif fault == "dagster":
        assert daemon is not None
        # Up only for its fault: its schedules (checks, dbt builds) would otherwise load the round throughout.
        daemon.start()
        cancelled_at = time.time()
        job.cancel()  # the job is gone: the daemon's sensor redeploys it from the newest checkpoint ...
        wait_until(daemon.deploying, "the Dagster daemon to start redeploying the job", 180)
        fault_at = time.time()
        details |= daemon.kill()  # ... and the daemon crashes in the middle of it
        daemon.start()
        details["deploying_after_s"] = round(fault_at - cancelled_at, 1)
        follow_job(job, 600)
        details["recovered_by"] = (
            "the submission that outlived the daemon; the restarted daemon's sensor marked the orphaned run failed"
        )
        recovery = chaos.wait_recovered(job, fault_at, timeout_s=600)
        daemon.kill()
        return recovery, details
    elif fault == "generator":
        fault_at = time.time()
        generator.kill()
        generator.start()  # the same stream, from its last confirmed batch
    elif fault == "corrupt":
        fault_at = time.time()
        raw = Producer({"bootstrap.servers": settings.bootstrap_servers})
        for i in range(1000):
            raw.produce(job.topic, CORRUPT[i % len(CORRUPT)], partition=i % 3)
        raw.flush()
        details["corrupt_records"] = 1000
    else:
        raise ValueError(f"unknown fault {fault}")
    return chaos.wait_recovered(job, fault_at, timeout_s=600), details


def run_round(settings: Settings, faults: list[str], events_per_fault: int, round_no: int) -> list[dict]:
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
    daemon = Daemon(settings, iso, settings.log_dir / "bench-chaos-dagster-daemon.log") if "dagster" in faults else None
    results: list[dict] = []
    span = timedelta(minutes=math.ceil(events_per_fault / SEGMENT_RATE / 60))
    try:
        for i, fault in enumerate(faults):
            start = T0 + i * span
            before = chaos.topic_records(settings, topic)
            generator = chaos.Generator(
                settings, topic, SEGMENT_RATE, settings.log_dir / "bench-chaos-generator.log",
                seed=10 + i + 100 * round_no, database=database, scenarios=chaos.hard_cases(60, 240),
                start_ms=int(start.timestamp() * 1000), count=events_per_fault, max_speed=True,
                nice=settings.flink_taskmanager_nice,
            )  # fmt: skip
            generator.start()
            # Hit the job while it is busy with this segment: a third of it is in Kafka.
            wait_until(lambda b=before: chaos.topic_records(settings, topic) - b >= events_per_fault // 3,
                       "a third of the segment in Kafka", 600)  # fmt: skip
            injected_at = chaos.topic_records(settings, topic) - before
            print(f"[round {round_no} {fault}] injecting at {injected_at} events of the segment", flush=True)
            recovered, details = inject(fault, job, generator, daemon)
            print(f"[round {round_no} {fault}] processing again after {recovered.resumed_s} s, checkpointed after "
                  f"{recovered.checkpointed_s} s {details}", flush=True)  # fmt: skip
            if generator.wait() != 0:
                raise RuntimeError(f"the segment's generator failed: read {generator.log_file}")
            wait_until(lambda: committed(settings, topic, job.name) >= chaos.topic_records(settings, topic),
                       "the job to catch up (committed offsets at the end)", 1800)  # fmt: skip
            results.append({"round": round_no, "fault": fault, "resumed_s": recovered.resumed_s,
                            "recovered_s": recovered.checkpointed_s, "segment_start": start,
                            "segment_end": start + span, **details})  # fmt: skip
        producer = EventProducer(settings, topic)
        send_clock(producer, T0 + len(faults) * span + timedelta(seconds=30))
        producer.flush()
        records = oracle.read_topic(settings, topic, fields=oracle.RECONCILED_FIELDS)  # once per round
        last = results[-1]
        last_ok = lambda: reconcile(settings, topic, database, last["segment_start"], last["segment_end"],  # noqa: E731
                                    records=records).ok  # fmt: skip
        try:  # until the job has written the last segment's windows; a difference that stays is reported below
            wait_until(last_ok, "the last segment's windows to be written", 300)
        except TimeoutError:
            pass
        for r in results:
            report = reconcile(settings, topic, database, r["segment_start"], r["segment_end"], records=records)
            print(report.render(), flush=True)
            r.update(events=report.kafka_events, lost=report.lost, doubled=report.doubled,
                     misclassified_late=report.misclassified_late, rows_compared=report.rows_compared,
                     rows_skipped=report.rows_skipped, late_events=report.late_events, duplicates=report.duplicates,
                     anomalies_compared=sum(t.compared for t in report.tables if t.table.startswith("cdn_a")
                                            or t.table == "cdn_incidents"),
                     differing_rows=sum(len(t.missing) + len(t.extra) + len(t.differing) for t in report.tables),
                     dead_letters_ok=report.dead_letters.ok, reconciled=report.ok)  # fmt: skip
            r["segment_start"], r["segment_end"] = r["segment_start"].isoformat(), r["segment_end"].isoformat()
    finally:
        if daemon:
            daemon.kill()
        job.cancel()
        _drop(settings, iso)  # the round's database and both topics: nothing left behind
    return results


def summarize(results: list[dict], faults: list[str]) -> dict:
    per_fault = {}
    for fault in faults:
        runs = [r for r in results if r["fault"] == fault]
        per_fault[fault] = {
            "runs": len(runs),
            # None where the source's REST metrics stayed stale (see chaos.Recovery); counted, never hidden
            "resumed_s_median": statistics.median(seen) if (seen := [r["resumed_s"] for r in runs
                                                                     if r["resumed_s"] is not None]) else None,
            "resumed_not_observed": len(runs) - len(seen),
            "recovered_s_median": statistics.median(r["recovered_s"] for r in runs),
            "recovered_s_max": max(r["recovered_s"] for r in runs),
            "events": sum(r["events"] for r in runs),
            **{k: sum(r[k] for r in runs) for k in ("lost", "doubled", "misclassified_late", "rows_compared",
                                                    "rows_skipped", "late_events", "duplicates")},
            "all_reconciled": all(r["reconciled"] for r in runs),
        }  # fmt: skip
    return per_fault


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-fault", type=int, default=1_000_000)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--rounds", type=int, default=3, help="every fault this many times (medians reported)")
    parser.add_argument(
        "--first-round",
        type=int,
        default=1,
        help="number of the first round (its seeds): continue an earlier run with fresh data",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "chaos.json")
    args = parser.parse_args()
    settings = get_settings()
    faults = [f for f in args.faults.split(",") if f]
    load_before = os.getloadavg()
    started = time.monotonic()
    results: list[dict] = []
    for round_no in range(args.first_round, args.first_round + args.rounds):
        results += run_round(settings, faults, args.events_per_fault, round_no)
        # Written after every round: a long run that is stopped early still leaves its rounds on record.
        per_fault = summarize(results, faults)
        result = {
            "benchmark": "chaos",
            "when": datetime.now(timezone.utc).isoformat(),
            "arguments": vars(args) | {"out": str(args.out)},
            "kafka_brokers": settings.kafka_brokers,
            "zookeeper_nodes": settings.zookeeper_nodes,
            "flink_taskmanagers": settings.flink_taskmanagers,
            # CPU priorities (nice): the TaskManagers and the load (clients that stand for other machines) run
            # below the control plane (JobManager, ZooKeeper, Kafka, PostgreSQL, Dagster, the submission).
            "taskmanager_nice": settings.flink_taskmanager_nice,
            "generator_nice": settings.flink_taskmanager_nice,
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "wall_s": round(time.monotonic() - started, 1),
            "events_per_fault": args.events_per_fault,
            "rounds": args.rounds,
            "rounds_completed": round_no,
            "per_fault": per_fault,
            "runs": results,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
    for fault, f in per_fault.items():
        resumed = "  n/a" if f["resumed_s_median"] is None else f"{f['resumed_s_median']:5.1f}"
        print(f"{fault:<12} median processing again {resumed} s, checkpointed "
              f"{f['recovered_s_median']:5.1f} s (max {f['recovered_s_max']:5.1f} s) over {f['runs']} runs; "
              f"{f['events']:,} events, lost {f['lost']}, doubled {f['doubled']}, misclassified late "
              f"{f['misclassified_late']}, rows compared {f['rows_compared']:,}, "
              f"skipped {f['rows_skipped']}")  # fmt: skip
    worst = max(per_fault.items(), key=lambda kv: kv[1]["recovered_s_max"])
    print(
        f"SUMMARY chaos ({os.cpu_count()} cores): {len(faults)} faults x {args.rounds} rounds x "
        f"{args.events_per_fault:,} events; lost {sum(r['lost'] for r in results)}, doubled "
        f"{sum(r['doubled'] for r in results)}, misclassified late {sum(r['misclassified_late'] for r in results)}, "
        f"rows skipped {sum(r['rows_skipped'] for r in results)} of {sum(r['rows_compared'] for r in results):,} "
        f"compared; slowest recovery {worst[0]} {worst[1]['recovered_s_max']} s; "
        f"all reconciled: {all(r['reconciled'] for r in results)}"
    )


if __name__ == "__main__":
    main()
