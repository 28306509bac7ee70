"""Benchmark: catch-up throughput of the Flink job (Nexmark-style), against the real local stack.

Preloads N events (default 5 million) into a scratch topic with the generator, then submits the
analytics job with every query running and times it draining the topic into PostgreSQL. Reports
events/s (wall) and events per CPU-second of the Flink processes (JobManager + TaskManager CPU time
during the drain, from /proc via psutil). Several runs reuse the preloaded topic, each with a
fresh consumer group and database; the median is reported.

    .venv/bin/python bench/flink_catchup.py [--events 5000000] [--runs 3] [--parallelism 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import deploy  # noqa: E402
from flink_jobs.rest import FlinkRest  # noqa: E402
from generator.run import RunConfig, run_generator  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import Settings, get_settings  # noqa: E402
from streampulse.stack.supervisor import Supervisor  # noqa: E402

TOPIC = "bench-catchup"
SIMULATED_RATE = 20_000  # event-time rate of the preloaded stream (events per second)


def flink_cpu_seconds(settings: Settings) -> float:
    supervisor = Supervisor(settings)
    total = 0.0
    for name in ("flink-jobmanager", "flink-taskmanager"):
        info = supervisor.info(name)
        if not info or not info["pid"]:
            raise SystemExit(f"{name} is not running under this stack: start it with `streampulse stack up --core`")
        process = psutil.Process(info["pid"])
        for p in [process, *process.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
    return total


def source_records(settings: Settings, job_id: str) -> int:
    job = FlinkRest.from_settings(settings).job(job_id)
    source = next(v for v in job["vertices"] if "Source" in v["name"])
    return int(source["metrics"]["read-records"])  # events read from Kafka


def preload(settings: Settings, events: int) -> None:
    bootstrap.ensure_topic(settings, TOPIC, partitions=3)
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": "bench-catchup-check"})
    for _attempt in range(30):  # a topic created a moment ago may not have leaders yet
        try:
            present = sum(consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in range(3))
            break
        except KafkaException:
            time.sleep(1)
    consumer.close()
    if present >= events:
        print(f"topic {TOPIC} already holds {present:,} events", flush=True)
        return
    started = time.monotonic()
    config = RunConfig(rate=SIMULATED_RATE, count=events - present, seed=4242, max_speed=True, topic=TOPIC,
                       start_ms=int(datetime(2026, 1, 2, tzinfo=timezone.utc).timestamp() * 1000) + present // 20,
                       record_labels=False)  # fmt: skip
    run_generator(settings, config)
    print(f"preloaded {events - present:,} events in {time.monotonic() - started:.0f} s", flush=True)


def one_run(settings: Settings, events: int, parallelism: int, sql_dir: Path | None = None) -> dict:
    suffix = uuid.uuid4().hex[:8]
    database, job_name = f"bench_{suffix}", f"bench-catchup-{suffix}"
    bootstrap.ensure_database(settings, database)
    bootstrap.apply_migrations(settings, database)
    scoped = settings.model_copy(update={"flink_parallelism": parallelism})
    job_id = deploy.submit_in_subprocess(scoped, topic=TOPIC, database=database, job_name=job_name,
                                         alerts_topic=f"{TOPIC}-alerts",
                                         **({"sql_dir": sql_dir} if sql_dir else {}))  # fmt: skip
    try:
        while FlinkRest.from_settings(settings).job_state(job_id) != "RUNNING":
            time.sleep(0.5)
        while source_records(settings, job_id) == 0:
            time.sleep(0.2)
        cpu0, t0 = flink_cpu_seconds(settings), time.monotonic()
        read = 0
        while read < events:
            time.sleep(1)
            read = source_records(settings, job_id)
        elapsed, cpu = time.monotonic() - t0, flink_cpu_seconds(settings) - cpu0
        with psycopg.connect(settings.dsn(database)) as conn:
            rows = conn.execute("select count(*) from realtime.content_minute_stats").fetchone()[0]
    finally:
        FlinkRest.from_settings(settings).cancel(job_id, check=False)
        time.sleep(2)
        with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
    return {"events_per_s": events / elapsed, "events_per_cpu_s": events / cpu, "seconds": elapsed,
            "flink_cpu_s": cpu, "content_rows": rows}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument(
        "--sql-dir",
        type=Path,
        default=None,
        help="another version of flink_jobs/sql (e.g. from `git show`): compare two versions",
    )
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/flink_catchup_p<N>.json")
    args = parser.parse_args()
    settings = get_settings()
    bootstrap.ensure_topic(settings, f"{TOPIC}-alerts", partitions=1)
    preload(settings, args.events)
    runs = []
    for i in range(args.runs):
        runs.append(one_run(settings, args.events, args.parallelism, args.sql_dir))
        r = runs[-1]
        print(f"run {i + 1}: {r['events_per_s']:,.0f} events/s, {r['events_per_cpu_s']:,.0f} events/CPU-s "
              f"({r['seconds']:.0f} s, Flink CPU {r['flink_cpu_s']:.0f} s)", flush=True)  # fmt: skip
    result = {
        "benchmark": "flink_catchup",
        "when": datetime.now(timezone.utc).isoformat(),
        "cores": os.cpu_count(),
        "events": args.events,
        "parallelism": args.parallelism,
        "sql_dir": str(args.sql_dir or "flink_jobs/sql"),
        "load_average": os.getloadavg(),
        "queries": "content + content-region stats, trending (region + global), CDN health, 3 anomaly "
        "patterns x2, alerts topic, late events",
        "runs": runs,
        "events_per_s_median": round(statistics.median(r["events_per_s"] for r in runs)),
        "events_per_cpu_s_median": round(statistics.median(r["events_per_cpu_s"] for r in runs)),
    }
    out = (args.out or REPO / "bench" / "results" / f"flink_catchup_p{args.parallelism}.json").resolve()
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"SUMMARY flink_catchup ({result['cores']} cores, parallelism {args.parallelism}, median of {args.runs} x "
        f"{args.events:,}): {result['events_per_s_median']:,} events/s, {result['events_per_cpu_s_median']:,} "
        f"events per Flink CPU-second (goal 75,000) -> {out.relative_to(REPO)}"
    )


if __name__ == "__main__":
    main()
