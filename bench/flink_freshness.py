"""Benchmark: freshness of every real-time table and of the alerts, under a steady event rate, against the
real local stack.

Starts the analytics job on a scratch topic and database, then runs the generator in real time at --rate
events/s (event time = wall-clock time, starting on a whole minute) for --warmup-s plus --windows minutes.
The stream carries incidents on a 6-minute cycle (3 edge-node outages, 2 latency degradations and a
regional outage, each 3 whole minutes long), 1% client retries and out-of-order events.

Measured, for every row whose window ended in the measured span:
- tables (content minute, content x region minute, CDN node minute, trending): `written_at - window_end`,
  where written_at is when PostgreSQL inserted the row;
- alerts: from the end of the third bad minute's window (detected_at) to the alert, both in PostgreSQL
  (cdn_alerts.written_at) and on the alerts topic (when a read_committed consumer received it).
Per table: p50, p99 and max over the rows, and the same over windows of each window's last row (when the
window was complete), of its first row (when the window fired) and of the time between the two (its
writing). The floor is the watermark delay: a window closes when events that much later have arrived.

    .venv/bin/python bench/flink_freshness.py [--rate 20000] [--windows 30] [--parallelism N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from confluent_kafka import Consumer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import deploy  # noqa: E402
from flink_jobs.rest import FlinkRest  # noqa: E402
from generator import scenarios as scenario_specs  # noqa: E402
from generator.run import Progress, RunConfig, run_generator  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import Settings, get_settings  # noqa: E402

TABLES = ("content_minute_stats", "content_region_minute_stats", "cdn_node_minute_stats", "trending")
CYCLE_S = 360  # one round of incidents: a good minute, three bad ones, two good ones

LATENCY_SQL = """
select extract(epoch from written_at - window_end)::float8 as latency_s, window_end
from realtime.{table}
where window_end > %(start)s and window_end <= %(end)s
"""
ALERTS_SQL = """
select anomaly_kind, subject, detected_at, extract(epoch from written_at - detected_at)::float8 as latency_s
from realtime.cdn_alerts
where detected_at > %(start)s and detected_at <= %(end)s
"""


def incidents(total_s: int) -> list[str]:
    """Incidents every CYCLE_S seconds (bad minutes 1-3 of each cycle), plus retries and out-of-order events."""
    specs = []
    for start in range(60, total_s - 180, CYCLE_S):
        window = f"start={start},duration=180"
        specs += [f"cdn_outage:node={node},{window}" for node in ("edge-de-fra-1", "edge-gb-lon-1", "edge-fr-par-1")]
        specs += [f"latency_degradation:node={node},{window}" for node in ("edge-us-east-1", "edge-ca-tor-1")]
        specs.append(f"regional_outage:region=BR,{window}")
    return specs + ["duplicates:fraction=0.01,start=0,duration=86400",
                    "out_of_order:fraction=0.2,max_delay=4,start=0,duration=86400"]  # fmt: skip


def cpu_times() -> list[int]:
    """The machine's CPU time so far (/proc/stat): user, nice, system, idle, iowait, irq, softirq, steal."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def cpu_shares(before: list[int], after: list[int]) -> dict:
    """How the cores' time went between two readings. `steal` is time the hypervisor gave other machines:
    on a shared host it is CPU this benchmark did not get."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent) or 1
    busy, idle = sum(spent[i] for i in (0, 1, 2, 5, 6)), spent[3] + spent[4]
    return {"busy": round(busy / total, 3), "idle": round(idle / total, 3), "steal": round(spent[7] / total, 3)}


def stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "p50_s": None, "p99_s": None, "max_s": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_s": round(statistics.median(ordered), 3),
        "p99_s": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "max_s": round(ordered[-1], 3),
    }


class AlertListener(threading.Thread):
    """Receives the alerts topic as its consumers would (read_committed): when each OPEN alert arrived."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.received: list[tuple[float, dict]] = []
        self.consumer = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": f"fresh-{topic}",
                                  "isolation.level": "read_committed", "auto.offset.reset": "earliest"})  # fmt: skip
        self.consumer.subscribe([topic])

    def run(self) -> None:
        while not self.stop.is_set():
            message = self.consumer.poll(0.1)
            if message is not None and not message.error():
                self.received.append((time.time(), json.loads(message.value())))
        self.consumer.close()


def topic_latencies(received: list[tuple[float, dict]], start: datetime, end: datetime) -> list[float]:
    out = []
    for at, alert in received:
        detected = datetime.fromisoformat(alert["at_time"].replace("Z", "+00:00"))
        detected = detected if detected.tzinfo else detected.replace(tzinfo=timezone.utc)
        if alert["state"] == "OPEN" and start < detected <= end:
            out.append(at - detected.timestamp())
    return out


def main() -> None:
    default_parallelism = get_settings().flink_parallelism
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20_000, help="events per second, steady (default 20000)")
    parser.add_argument("--warmup-s", type=int, default=90, help="seconds before measuring (default 90)")
    parser.add_argument("--windows", type=int, default=30, help="measured minute windows (default 30)")
    parser.add_argument("--parallelism", type=int, default=default_parallelism,
                        help=f"the job's parallelism (default: the settings', {default_parallelism} here)")  # fmt: skip
    parser.add_argument("--job-config", action="append", default=[], metavar="KEY=VALUE",
                        help="a Flink option for the job, over the defaults (repeatable)")  # fmt: skip
    parser.add_argument("--sql-dir", type=Path, default=None,
                        help="another version of flink_jobs/sql (from `git show`): compare two versions")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/flink_freshness_<rate>.json")
    args = parser.parse_args()
    settings = get_settings()
    suffix = uuid.uuid4().hex[:8]
    topic, database, job_name = f"bench-fresh-{suffix}", f"bench_{suffix}", f"bench-freshness-{suffix}"
    alerts_topic = f"{topic}-alerts"
    bootstrap.ensure_database(settings, database)
    bootstrap.apply_migrations(settings, database)
    bootstrap.ensure_topic(settings, topic, partitions=settings.events_topic_partitions)
    bootstrap.ensure_topic(settings, alerts_topic, partitions=1)
    job_config = settings.flink_job_config | dict(item.split("=", 1) for item in args.job_config)
    scoped = settings.model_copy(update={"flink_parallelism": args.parallelism, "flink_job_config": job_config})
    flink = FlinkRest.from_settings(settings)
    job_id = deploy.submit_in_subprocess(
        scoped,
        topic=topic,
        database=database,
        job_name=job_name,
        alerts_topic=alerts_topic,
        **({"sql_dir": args.sql_dir} if args.sql_dir else {}),
    )
    stop = threading.Event()
    progress: list[Progress] = []
    listener = AlertListener(settings, alerts_topic)
    listener.start()
    load_before = os.getloadavg()
    try:
        deploy.wait_until_running(settings, job_id)
        time.sleep(60 - time.time() % 60)  # start on a whole minute: the incidents cover whole minutes
        started = time.time()
        cpu_before = cpu_times()
        total_s = args.warmup_s + args.windows * 60 + 60
        config = RunConfig(rate=args.rate, duration_s=total_s, seed=99, topic=topic, record_labels=False,
                           start_ms=int(started * 1000), scenarios=scenario_specs.load(incidents(total_s)))  # fmt: skip
        generator = threading.Thread(
            target=run_generator, args=(settings, config, stop, progress.append, 10.0), daemon=True
        )
        generator.start()
        while generator.is_alive():
            generator.join(timeout=60)
            if progress:
                p = progress[-1]
                print(f"  t+{time.time() - started:5.0f} s: {p.produced:,} events, {p.events_per_s:,.0f}/s, "
                      f"generator behind {p.behind_s:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        cpu = cpu_shares(cpu_before, cpu_times())
        time.sleep(settings.watermark_delay_seconds + 15)  # the last measured windows close and land
        # Measured: windows that ended after the warm-up and at least 60 s before the stream stopped.
        span = {"start": datetime.fromtimestamp(started + args.warmup_s, timezone.utc),
                "end": datetime.fromtimestamp(started + args.warmup_s + args.windows * 60, timezone.utc)}  # fmt: skip
        tables = {}
        with psycopg.connect(settings.dsn(database)) as conn:
            for table in TABLES:
                rows = conn.execute(LATENCY_SQL.format(table=table), span).fetchall()
                first: dict = {}
                last: dict = {}
                for latency, window_end in rows:
                    first[window_end] = min(latency, first.get(window_end, latency))
                    last[window_end] = max(latency, last.get(window_end, latency))
                # Where the time goes: a window's first row is when it fired (plus one flush); from its first
                # row to its last is how long its rows took to write.
                tables[table] = {"rows": stats([r[0] for r in rows]), "windows": stats(list(last.values())),
                                 "first_rows": stats(list(first.values())),
                                 "write_spread": stats([last[w] - first[w] for w in last])}  # fmt: skip
            alerts = conn.execute(ALERTS_SQL, span).fetchall()
        tables["alerts (PostgreSQL)"] = {"rows": stats([a[3] for a in alerts])}
        tables["alerts (topic)"] = {"rows": stats(topic_latencies(listener.received, span["start"], span["end"]))}
        # The heap decides whether a minute of deduplication state fits (docs/performance.md).
        memory = [tm.get("memoryConfiguration", {}) for tm in flink.taskmanagers()]
        failures = len(flink.exceptions(job_id).get("exceptionHistory", {}).get("entries", []))
    finally:
        stop.set()
        listener.stop.set()
        flink.cancel(job_id, check=False)
        time.sleep(2)
        with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": settings.bootstrap_servers}).delete_topics([topic, alerts_topic])
    goal = settings.watermark_delay_seconds + 1.0
    achieved = progress[-1].events_per_s if progress else 0.0
    # A table with no row in the measured span has not kept up: it is the worst, with no figure.
    silent = [t for t, v in tables.items() if not v["rows"]["count"]]
    worst_table, worst = max(((t, v["rows"]["p99_s"] or 0.0) for t, v in tables.items()), key=lambda x: x[1])
    if silent:
        worst_table, worst = ", ".join(silent), None
    result = {
        "benchmark": "flink_freshness",
        "when": datetime.now(timezone.utc).isoformat(),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "cpu_during_run": cpu,  # shares of the cores' time while the generator ran
        "rate_target": args.rate,
        "rate_achieved": round(achieved),
        "generator_behind_s": round(progress[-1].behind_s, 2) if progress else None,
        "parallelism": args.parallelism,
        "job_config": job_config,
        "sql_dir": str(args.sql_dir or "flink_jobs/sql"),
        "watermark_delay_s": settings.watermark_delay_seconds,
        "sink_flush_interval": settings.sink_flush_interval,
        "checkpoint_interval_ms": settings.checkpoint_interval_ms,
        "taskmanager_memory": memory,
        "job_failures": failures,  # restarts of the job during the run (0 unless something broke)
        "measured_windows": args.windows,
        "tables": tables,
        "worst_table": worst_table,
        "worst_p99_s": worst,
        "goal_p99_s": goal,
        "tables_without_rows": silent,
        "goal_met": worst is not None and worst <= goal,
    }
    out = (args.out or REPO / "bench" / "results" / f"flink_freshness_{int(args.rate)}.json").resolve()
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    for table, v in tables.items():
        r = v["rows"]
        print(f"{table:32s} rows {r['count']:>8,}  p50 {r['p50_s']} s  p99 {r['p99_s']} s  max {r['max_s']} s")
    print(
        f"SUMMARY flink_freshness ({result['cores']} cores, {cpu['steal']:.0%} stolen by the host, parallelism "
        f"{args.parallelism}, {achieved:,.0f} of {args.rate:,.0f} events/s, {args.windows} windows): "
        + (f"worst p99 {worst:.2f} s ({worst_table})" if worst is not None else f"no row yet in {worst_table}")
        + f", goal <= {goal} s -> {out}"
    )


if __name__ == "__main__":
    main()
