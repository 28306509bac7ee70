"""Benchmark: events/s one generator process delivers to the real broker (acks=all, idempotent, Avro).

Against the running local stack (`make up` or `streampulse stack up --core`). Each run produces
`--events` events at maximum speed to a scratch topic and waits until every one is acknowledged;
the figure is delivered events / wall time. Also measured in the same process, for ratios:
- where the time goes (cProfile of one run, by phase: draw, encode, produce, flush);
- the naive path: fastavro's schemaless_writer, one dict per record into a new BytesIO;
- Avro size against the same events as compact JSON.
Writes bench/results/generator_throughput.json and ends with one SUMMARY line.

    .venv/bin/python bench/generator_throughput.py [--events 2000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import fastavro
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from generator.catalog import Catalog  # noqa: E402
from generator.encoding import BatchEncoder  # noqa: E402
from generator.model import EventModel  # noqa: E402
from generator.run import RunConfig, run_generator  # noqa: E402
from generator.schema import LATEST_VERSION, parsed_event_schema  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import Settings, get_settings  # noqa: E402

TOPIC = "bench-generator"
PHASES = {
    "draw events (numpy)": ("model.py", "draw"),
    "encode Avro (numba kernel) + message dicts": ("encoding.py", "messages"),
    "produce_batch (librdkafka)": ("producer.py", "send_encoded"),
    "flush (wait for acks)": ("producer.py", "flush"),
}


def one_run(settings: Settings, events: int, seed: int) -> float:
    config = RunConfig(rate=100_000, count=events, seed=seed, max_speed=True, topic=TOPIC, record_labels=False)
    started = time.monotonic()
    result = run_generator(settings, config)
    elapsed = time.monotonic() - started
    assert result.report is not None and result.report.failed == 0
    return result.report.delivered / elapsed


def profile_run(settings: Settings, events: int) -> dict[str, float]:
    profiler = cProfile.Profile()
    profiler.enable()
    one_run(settings, events, seed=99)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    shares = {}
    for phase, (filename, func) in PHASES.items():
        cumulative = sum(
            v[3] for (f, _line, name), v in stats.stats.items()  # type: ignore[attr-defined]
            if f.endswith(filename) and name == func
        )  # fmt: skip
        shares[phase] = round(100 * cumulative / total, 1)
    shares["other (Python glue)"] = round(100 - sum(shares.values()), 1)
    return shares


def sizes_and_naive_rate(n: int = 100_000) -> dict:
    catalog = Catalog.build(1, 5000)
    batch = EventModel(catalog, 1).draw(1_767_225_600_000 + np.arange(n, dtype=np.int64) * 3)
    rows = batch.to_dicts(catalog, LATEST_VERSION)
    schema = parsed_event_schema(LATEST_VERSION)
    started = time.perf_counter()
    for row in rows:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, row)
        buf.getvalue()
    naive_rate = n / (time.perf_counter() - started)
    encoder = BatchEncoder(catalog, 1, LATEST_VERSION)
    started = time.perf_counter()
    messages = encoder.messages(batch)
    columnar_rate = n / (time.perf_counter() - started)
    avro = sum(len(m["value"]) for m in messages)
    compact_json = sum(len(json.dumps(r, separators=(",", ":"))) for r in rows)
    return {
        "events": n,
        "avro_bytes_per_event_with_header": round(avro / n, 1),
        "json_bytes_per_event": round(compact_json / n, 1),
        "avro_smaller_than_json_pct": round(100 * (1 - avro / compact_json), 1),
        "naive_fastavro_records_per_s": round(naive_rate),
        "columnar_encoder_records_per_s": round(columnar_rate),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000, help="events per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    bootstrap.ensure_topic(settings, TOPIC, partitions=3)
    one_run(settings, 200_000, seed=1)  # warm-up: connections, registry, page cache
    rates = []
    for run in range(args.runs):
        rates.append(one_run(settings, args.events, seed=run + 2))
        print(f"run {run + 1}: {rates[-1]:,.0f} events/s delivered", flush=True)
    phases = profile_run(settings, min(args.events, 1_000_000))
    sizes = sizes_and_naive_rate()
    from confluent_kafka.admin import AdminClient

    AdminClient({"bootstrap.servers": settings.bootstrap_servers}).delete_topics([TOPIC])
    result = {
        "benchmark": "generator_throughput",
        "when": datetime.now(timezone.utc).isoformat(),
        "cores": os.cpu_count(),
        "producer": f"acks=all, idempotent, lz4, Avro (registry wire format), schema v{LATEST_VERSION}",
        "events_per_run": args.events,
        "events_per_s": [round(r) for r in rates],
        "events_per_s_median": round(statistics.median(rates)),
        "time_share_pct_profiled_run": phases,
        **sizes,
    }
    out = REPO / "bench" / "results" / "generator_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("where the time goes (profiled run):", json.dumps(phases))
    print(json.dumps(sizes))
    print(
        f"SUMMARY generator_throughput ({result['cores']} cores, median of {args.runs} x {args.events:,}): "
        f"{result['events_per_s_median']:,} events/s delivered (goal 200,000); Avro "
        f"{sizes['avro_smaller_than_json_pct']}% smaller than JSON (goal 75%) -> {out.relative_to(REPO)}"
    )


if __name__ == "__main__":
    main()
