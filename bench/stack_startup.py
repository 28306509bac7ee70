"""Benchmark: time from `streampulse stack up` to all healthy, and the memory the running stack takes.

Each run stops the stack, starts it again (the state is warm: formatted storage, initialised
database), waits for every component to be healthy, lets it settle, then sums the resident memory
(RSS) of every process under supervisord. Prints the median of the runs and one summary line;
writes bench/results/stack_startup.json.

    .venv/bin/python bench/stack_startup.py [--runs 3] [--core]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streampulse.settings import get_settings  # noqa: E402


def stack(*args: str) -> None:
    cmd = [sys.executable, "-m", "streampulse.cli", "stack", *args]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=900)


def stack_rss_mb() -> tuple[float, dict[str, float]]:
    settings = get_settings()
    pid = int((settings.run_dir / "supervisord.pid").read_text())
    per_process: dict[str, float] = {}
    total = 0.0
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            rss = proc.memory_info().rss / 2**20
            name = " ".join(proc.cmdline()[-2:])[-60:]
        except psutil.Error:
            continue
        total += rss
        per_process[f"{proc.pid} {name}"] = round(rss, 1)
    return total, per_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--core", action="store_true", help="only Kafka, registry, Flink, PostgreSQL")
    parser.add_argument("--settle", type=float, default=30, help="seconds to wait before measuring memory")
    args = parser.parse_args()
    up_args = ["up", "--core"] if args.core else ["up"]
    startup_s, rss_mb = [], []
    last_breakdown: dict[str, float] = {}
    for run in range(1, args.runs + 1):
        stack("down")
        started = time.monotonic()
        stack(*up_args)
        startup_s.append(time.monotonic() - started)
        time.sleep(args.settle)
        total, last_breakdown = stack_rss_mb()
        rss_mb.append(total)
        print(f"run {run}: all healthy in {startup_s[-1]:.1f} s, stack RSS {total:.0f} MiB", flush=True)
    result = {
        "benchmark": "stack_startup",
        "when": datetime.now(timezone.utc).isoformat(),
        "cores": os.cpu_count(),
        "scope": "core" if args.core else "full",
        "runs": args.runs,
        "startup_seconds": [round(s, 1) for s in startup_s],
        "startup_seconds_median": round(statistics.median(startup_s), 1),
        "rss_mib": [round(m) for m in rss_mb],
        "rss_mib_median": round(statistics.median(rss_mb)),
        "rss_breakdown_last_run_mib": last_breakdown,
    }
    out = REPO / "bench" / "results" / f"stack_startup_{result['scope']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"SUMMARY stack_startup ({result['scope']}, {result['cores']} cores, median of {args.runs}): "
        f"all healthy in {result['startup_seconds_median']} s, RSS {result['rss_mib_median']} MiB -> {out}"
    )


if __name__ == "__main__":
    main()
