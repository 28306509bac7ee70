"""Benchmark: catch-up throughput of the Flink job (Nexmark-style), against the real local stack.

Preloads N events (default 5 million) into a scratch topic with the generator, carrying the hard cases
(3% late events, 1% client retries, a node outage, a latency degradation and a regional outage). Then
each run submits the analytics job, every query included (deduplication, late events, anomalies, the
alerts topic), reading the topic from its first to its last offset (`bounded`, as a replay does), and
times it draining the topic into PostgreSQL.

The clock starts when the source has read its first record and stops when the job has FINISHED: every
window closed (the end of the input moves the watermark to the end of time), every row committed in
PostgreSQL (the JDBC sinks flush on close) and the alerts' Kafka transaction committed by the final
checkpoint. Over that interval it reads the CPU time of Flink (JobManager and TaskManagers), PostgreSQL
and Kafka from /proc, and per vertex the busy, backpressured and idle time Flink accumulated.

Each run uses a fresh consumer group and database; the median is reported.

    .venv/bin/python bench/flink_catchup.py [--events 5000000] [--runs 3] [--parallelism N]
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
from confluent_kafka import KafkaException

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import deploy, oracle  # noqa: E402
from flink_jobs.rest import FlinkRest  # noqa: E402
from generator import scenarios as scenario_specs  # noqa: E402
from generator.run import RunConfig, run_generator  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import Settings, get_settings  # noqa: E402
from streampulse.stack.supervisor import Supervisor  # noqa: E402
from streampulse.waiting import wait_until  # noqa: E402
from tests.chaos import hard_cases  # noqa: E402

TOPIC_PREFIX = "bench-catchup-v2"  # v2: carries the hard cases (v1 had none)
SIMULATED_RATE = 20_000  # event-time rate of the preloaded stream (events per second)
GROUPS = {"flink": ("flink-",), "postgres": ("postgres",), "kafka": ("kafka",)}
TABLES = ("content_minute_stats", "content_region_minute_stats", "cdn_node_minute_stats", "trending",
          "cdn_alerts", "cdn_incidents", "late_events")  # fmt: skip


def cpu_seconds(settings: Settings) -> dict[str, float]:
    """CPU time (user + system) so far of the stack's processes and their children, per group."""
    totals = dict.fromkeys(GROUPS, 0.0)
    for name, info in Supervisor(settings).all_info().items():
        group = next((g for g, prefixes in GROUPS.items() if name.startswith(prefixes)), None)
        if group is None or not info.get("pid"):
            continue
        try:
            process = psutil.Process(info["pid"])
            for p in [process, *process.children(recursive=True)]:
                times = p.cpu_times()
                totals[group] += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue
    if not totals["flink"]:
        raise SystemExit("Flink is not running under this stack: start it with `streampulse stack up --core --no-job`")
    return totals


def topic_name(settings: Settings, events: int) -> str:
    """One preloaded topic per size and partition count."""
    return f"{TOPIC_PREFIX}-{events}-p{settings.events_topic_partitions}"


def preload(settings: Settings, topic: str, events: int) -> None:
    bootstrap.ensure_topic(settings, topic, partitions=settings.events_topic_partitions)
    # A topic created a moment ago may not have leaders yet.
    ends = wait_until(lambda: oracle.end_offsets(settings, topic, settings.events_topic_partitions),
                      f"the end offsets of {topic}", 30, retry_on=(KafkaException,))  # fmt: skip
    present = sum(ends)
    if present >= events:
        print(f"topic {topic} already holds {present:,} events", flush=True)
        return
    if present:
        raise SystemExit(f"topic {topic} holds {present:,} events, fewer than {events:,}: delete it and run again")
    started = time.monotonic()
    config = RunConfig(rate=SIMULATED_RATE, count=events, seed=4242, max_speed=True, topic=topic,
                       start_ms=int(datetime(2026, 1, 2, tzinfo=timezone.utc).timestamp() * 1000),
                       scenarios=scenario_specs.load(hard_cases(60, 180)), record_labels=False)  # fmt: skip
    run_generator(settings, config)
    print(f"preloaded {events:,} events in {time.monotonic() - started:.0f} s", flush=True)


def vertex_times(job: dict) -> list[dict]:
    """Per vertex: busy, backpressured and idle seconds summed over its subtasks (Flink's accumulated metrics)."""
    out = []
    for v in job["vertices"]:
        m = v.get("metrics", {})
        out.append({
            "vertex": v["name"][:160],
            "parallelism": v["parallelism"],
            "busy_s": round(m.get("accumulated-busy-time", 0) / 1000, 1),
            "backpressured_s": round(m.get("accumulated-backpressured-time", 0) / 1000, 1),
            "idle_s": round(m.get("accumulated-idle-time", 0) / 1000, 1),
            "records_in": m.get("read-records", 0),
        })  # fmt: skip
    return out


def one_run(
    settings: Settings,
    topic: str,
    events: int,
    parallelism: int,
    sql_dir: Path | None = None,
    job_config: dict | None = None,
) -> dict:
    suffix = uuid.uuid4().hex[:8]
    database, job_name = f"bench_{suffix}", f"bench-catchup-{suffix}"
    bootstrap.ensure_database(settings, database)
    bootstrap.apply_migrations(settings, database)
    job_config = settings.flink_job_config | (job_config or {})
    scoped = settings.model_copy(update={"flink_parallelism": parallelism, "flink_job_config": job_config})
    flink = FlinkRest.from_settings(settings)
    job_id = deploy.submit_in_subprocess(scoped, topic=topic, database=database, job_name=job_name,
                                         alerts_topic=f"{topic}-alerts", bounded=True,
                                         **({"sql_dir": sql_dir} if sql_dir else {}))  # fmt: skip
    try:
        while True:  # the clock starts at the first record read
            job = flink.job(job_id)
            if sum(v["metrics"].get("read-records", 0) for v in job["vertices"] if "Source" in v["name"]):
                break
            if job["state"] in ("FAILED", "CANCELED"):
                raise SystemExit(f"job {job_id} {job['state']} before reading; see the Flink UI")
            time.sleep(0.1)
        cpu0, t0 = cpu_seconds(settings), time.monotonic()
        while (state := flink.job_state(job_id)) not in ("FINISHED", "FAILED", "CANCELED"):
            time.sleep(0.2)
        elapsed, cpu1 = time.monotonic() - t0, cpu_seconds(settings)
        if state != "FINISHED":
            raise SystemExit(f"job {job_id} ended {state}; see {settings.log_dir}/flink-taskmanager.log")
        job = flink.job(job_id)
        with psycopg.connect(settings.dsn(database)) as conn:
            rows = {t: conn.execute(f"select count(*) from realtime.{t}").fetchone()[0] for t in TABLES}
    finally:
        flink.cancel(job_id, check=False)
        with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
    cpu = {group: round(cpu1[group] - cpu0[group], 2) for group in GROUPS}
    return {"events_per_s": round(events / elapsed), "events_per_cpu_s": round(events / cpu["flink"]),
            "seconds": round(elapsed, 2), "flink_cpu_s": cpu["flink"], "postgres_cpu_s": cpu["postgres"],
            "kafka_cpu_s": cpu["kafka"], "load_average_after": os.getloadavg(), "rows": rows,
            "vertices": vertex_times(job)}  # fmt: skip


def main() -> None:
    default_parallelism = get_settings().flink_parallelism
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5_000_000, help="events in the preloaded topic")
    parser.add_argument("--runs", type=int, default=3, help="runs; the median is reported (default 3)")
    parser.add_argument("--parallelism", type=int, default=default_parallelism,
                        help=f"the job's parallelism (default: the settings', {default_parallelism} here)")  # fmt: skip
    parser.add_argument(
        "--sql-dir",
        type=Path,
        default=None,
        help="another version of flink_jobs/sql (e.g. from `git show`): compare two versions",
    )
    parser.add_argument("--job-config", action="append", default=[], metavar="KEY=VALUE",
                        help="a Flink option for the job, over the defaults (repeatable)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/flink_catchup.json")
    args = parser.parse_args()
    job_config = dict(item.split("=", 1) for item in args.job_config)
    settings = get_settings()
    topic = topic_name(settings, args.events)
    preload(settings, topic, args.events)
    bootstrap.ensure_topic(settings, f"{topic}-alerts", partitions=1)
    load_before = os.getloadavg()
    runs = []
    for i in range(args.runs):
        runs.append(one_run(settings, topic, args.events, args.parallelism, args.sql_dir, job_config))
        r = runs[-1]
        print(f"run {i + 1}: {r['events_per_s']:,} events/s, {r['events_per_cpu_s']:,} events per Flink CPU-s "
              f"({r['seconds']:.1f} s; CPU s: Flink {r['flink_cpu_s']:.0f}, PostgreSQL {r['postgres_cpu_s']:.0f}, "
              f"Kafka {r['kafka_cpu_s']:.0f})", flush=True)  # fmt: skip
    result = {
        "benchmark": "flink_catchup",
        "when": datetime.now(timezone.utc).isoformat(),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "events": args.events,
        "topic": topic,
        "topic_partitions": settings.events_topic_partitions,
        "parallelism": args.parallelism,
        "sql_dir": str(args.sql_dir or "flink_jobs/sql"),
        "clock": "first record read -> job FINISHED (last windows closed, rows committed in PostgreSQL)",
        "queries": "content + content-region stats, trending (region + global), CDN health, 3 anomaly "
        "patterns x2, alerts topic, late events, deduplication, dead letters",
        "runs": runs,
        "events_per_s_median": round(statistics.median(r["events_per_s"] for r in runs)),
        "events_per_cpu_s_median": round(statistics.median(r["events_per_cpu_s"] for r in runs)),
        "events_per_s_worst": min(r["events_per_s"] for r in runs),
    }
    out = (args.out or REPO / "bench" / "results" / "flink_catchup.json").resolve()
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"SUMMARY flink_catchup ({result['cores']} cores, parallelism {args.parallelism}, median of {args.runs} x "
        f"{args.events:,}): {result['events_per_s_median']:,} events/s, {result['events_per_cpu_s_median']:,} "
        f"events per Flink CPU-second (goal 75,000) -> {out}"
    )


if __name__ == "__main__":
    main()
