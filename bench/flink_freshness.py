"""Benchmark: freshness of the real-time tables under a steady event rate, against the real local stack.

Starts the analytics job on a scratch topic and database, runs the generator in real time at --rate
events/s (event time = wall-clock time), and measures, for every window row the job writes, the time
it became visible in PostgreSQL minus the end of its window (`written_at - window_end`; written_at is
set by PostgreSQL when the row is inserted). The stream runs --warmup-s, then --runs periods of
--period-s each; each period gives p50/p99 over its rows, and the medians of those are reported.

The floor is the watermark delay (an event-time window can close only when the watermark passes its
end, i.e. when events --watermark seconds later have arrived) plus the sink's flush interval.

    .venv/bin/python bench/flink_freshness.py [--rate 20000] [--runs 3] [--period-s 120] [--parallelism 1]
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
from psycopg.rows import dict_row

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import deploy  # noqa: E402
from flink_jobs.rest import FlinkRest  # noqa: E402
from generator.run import Progress, RunConfig, run_generator  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import get_settings  # noqa: E402

TABLES = ("content_minute_stats", "content_region_minute_stats", "cdn_node_minute_stats", "trending")

LATENCY_SQL = """
select %(table)s as tbl,
       percentile_cont(0.5) within group (order by extract(epoch from written_at - window_end)) as p50,
       percentile_cont(0.99) within group (order by extract(epoch from written_at - window_end)) as p99,
       max(extract(epoch from written_at - window_end)) as max,
       count(*) as rows,
       count(distinct window_end) as windows
from realtime.{table}
where window_end > %(start)s and window_end <= %(end)s
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20_000, help="events per second, steady (default 20000)")
    parser.add_argument("--warmup-s", type=int, default=90, help="seconds before measuring (default 90)")
    parser.add_argument("--period-s", type=int, default=120, help="length of one measured period (default 120)")
    parser.add_argument("--runs", type=int, default=3, help="measured periods (default 3)")
    parser.add_argument("--parallelism", type=int, default=1)
    args = parser.parse_args()
    settings = get_settings()
    suffix = uuid.uuid4().hex[:8]
    topic, database, job_name = f"bench-fresh-{suffix}", f"bench_{suffix}", f"bench-freshness-{suffix}"
    bootstrap.ensure_database(settings, database)
    bootstrap.apply_migrations(settings, database)
    bootstrap.ensure_topic(settings, topic, partitions=settings.events_topic_partitions)
    bootstrap.ensure_topic(settings, f"{topic}-alerts", partitions=1)
    scoped = settings.model_copy(update={"flink_parallelism": args.parallelism})
    job_id = deploy.submit_in_subprocess(
        scoped, topic=topic, database=database, job_name=job_name, alerts_topic=f"{topic}-alerts"
    )
    stop = threading.Event()
    progress: list[Progress] = []
    try:
        while FlinkRest.from_settings(settings).job_state(job_id) != "RUNNING":
            time.sleep(0.5)
        time.sleep(3)
        total_s = args.warmup_s + args.runs * args.period_s + 15
        config = RunConfig(rate=args.rate, duration_s=total_s, seed=99, topic=topic, record_labels=False)
        generator = threading.Thread(
            target=run_generator, args=(settings, config, stop, progress.append, 10.0), daemon=True
        )
        started = datetime.now(timezone.utc)
        generator.start()
        for second in range(total_s + 20):
            time.sleep(1)
            if second % 30 == 0 and progress:
                p = progress[-1]
                print(f"  t+{second:4d} s: {p.produced:,} events produced, {p.events_per_s:,.0f}/s, "
                      f"generator behind {p.behind_s:.1f} s", flush=True)  # fmt: skip
        stop.set()
        generator.join(timeout=60)
        periods = []
        with psycopg.connect(settings.dsn(database), row_factory=dict_row) as conn:
            for i in range(args.runs):
                start = started.timestamp() + args.warmup_s + i * args.period_s
                bounds = {"start": datetime.fromtimestamp(start, timezone.utc),
                          "end": datetime.fromtimestamp(start + args.period_s, timezone.utc)}  # fmt: skip
                per_table = {}
                for table in TABLES:
                    row = conn.execute(LATENCY_SQL.format(table=table), {"table": table, **bounds}).fetchone()
                    per_table[table] = {k: (float(v) if isinstance(v, float) else v) for k, v in row.items()}
                everything = conn.execute(
                    "select percentile_cont(0.5) within group (order by s) as p50,"
                    " percentile_cont(0.99) within group (order by s) as p99, count(*) as rows from ("
                    + " union all ".join(
                        f"select extract(epoch from written_at - window_end)::float8 as s from realtime.{t}"
                        " where window_end > %(start)s and window_end <= %(end)s"
                        for t in TABLES
                    )
                    + ") x",
                    bounds,
                ).fetchone()
                periods.append({"period": i + 1, **everything, "tables": per_table})
                print(f"period {i + 1}: p50 {everything['p50']:.2f} s, p99 {everything['p99']:.2f} s over "
                      f"{everything['rows']:,} rows", flush=True)  # fmt: skip
    finally:
        stop.set()
        FlinkRest.from_settings(settings).cancel(job_id, check=False)
        time.sleep(2)
        with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{database}" with (force)')
        from confluent_kafka.admin import AdminClient

        AdminClient({"bootstrap.servers": settings.bootstrap_servers}).delete_topics([topic, f"{topic}-alerts"])
    goal = settings.watermark_delay_seconds + 1
    achieved = progress[-1].events_per_s if progress else 0.0
    result = {
        "benchmark": "flink_freshness",
        "when": datetime.now(timezone.utc).isoformat(),
        "cores": os.cpu_count(),
        "rate_target": args.rate,
        "rate_achieved": round(achieved),
        "generator_behind_s": round(progress[-1].behind_s, 2) if progress else None,
        "parallelism": args.parallelism,
        "watermark_delay_s": settings.watermark_delay_seconds,
        "sink_flush_interval": settings.sink_flush_interval,
        "periods": periods,
        "p50_s_median": round(statistics.median(p["p50"] for p in periods), 3),
        "p99_s_median": round(statistics.median(p["p99"] for p in periods), 3),
        "goal_p99_s": goal,
    }
    out = REPO / "bench" / "results" / f"flink_freshness_p{args.parallelism}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"SUMMARY flink_freshness ({result['cores']} cores, parallelism {args.parallelism}, {achieved:,.0f} events/s, "
        f"median of {args.runs} periods of {args.period_s} s): p50 {result['p50_s_median']:.2f} s, "
        f"p99 {result['p99_s_median']:.2f} s (goal p99 <= {goal} s) -> {out.relative_to(REPO)}"
    )


if __name__ == "__main__":
    main()
