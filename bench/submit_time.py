"""Benchmark: how long one submission of the analytics job takes, with its compiled plan cached or not.

Each run is `python -m flink_jobs.deploy` in a fresh process, as Dagster's deploy and every redeploy after
a fault run it: the PyFlink client starts its JVM, registers what the job needs, then either compiles the
plan (cold: the plan file is deleted first, so this is planning from SQL plus writing the file) or only
executes the cached one. `--baseline-rev` adds runs of deploy.py as of an earlier revision (one that
submitted the SQL itself, e.g. 9b741f6). Measured: wall time until the job id is printed and CPU seconds of the client's
whole process tree (Python and its JVM), then the job is cancelled before the next run. Runs alternate
cold and cached so that both see the same machine load.

It submits to the stack of the settings (use a stack of your own, STREAMPULSE_STATE_DIR and other ports):

    .venv/bin/python bench/submit_time.py [--runs 3] [--out bench/results/submit_time.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flink_jobs import deploy, plans  # noqa: E402
from flink_jobs.rest import FlinkRest  # noqa: E402
from streampulse.settings import get_settings  # noqa: E402

JOB_NAME = "bench-submit-time"


def tree_cpu(root: psutil.Process, seen: dict[int, float]) -> None:
    """Record the CPU seconds of every live process of the tree (a JVM is only seen while it runs)."""
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            seen[proc.pid] = max(seen.get(proc.pid, 0.0), times.user + times.system)
        except psutil.NoSuchProcess:
            pass


def one_run(request: str, command: list[str]) -> dict:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
    seen: dict[int, float] = {}
    root = psutil.Process(child.pid)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            tree_cpu(root, seen)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate(request)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"deploy exited {child.returncode}")
    job_id = json.loads(out.strip().splitlines()[-1])["job_id"]
    return {"wall_s": round(wall, 1), "cpu_s": round(sum(seen.values()), 1), "job_id": job_id,
            "load_1m": round(os.getloadavg()[0], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (cold, cached), alternating")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--baseline-rev", help="also run flink_jobs/deploy.py as of this git revision")
    args = parser.parse_args()
    current = [sys.executable, "-m", "flink_jobs.deploy"]
    commands = {"cold": current, "cached": current}
    if args.baseline_rev:
        baseline = Path(tempfile.mkdtemp()) / "deploy_baseline.py"
        baseline.write_text(subprocess.check_output(["git", "show", f"{args.baseline_rev}:flink_jobs/deploy.py"],
                                                    cwd=REPO, text=True))  # fmt: skip
        commands = {"baseline": [sys.executable, str(baseline)], **commands}
    settings = get_settings()
    flink = FlinkRest.from_settings(settings)
    request = json.dumps({"settings": deploy.settings_payload(settings), "spec": {"job_name": JOB_NAME}}, default=str)
    results: dict[str, list[dict]] = {kind: [] for kind in commands}
    for _ in range(args.runs):
        for kind, command in commands.items():
            if kind == "cold":
                for plan in plans.plan_dir(settings).glob("*.json"):
                    if JOB_NAME in plan.read_text():
                        plan.unlink()
            run = one_run(request, command)
            flink.cancel(run["job_id"])
            results[kind].append(run)
            print(kind, run, flush=True)
            time.sleep(3)  # the cancelled job's tasks free their slots
    summary = {
        kind: {
            "wall_s_median": statistics.median(r["wall_s"] for r in runs),
            "cpu_s_median": statistics.median(r["cpu_s"] for r in runs),
            "runs": runs,
        }  # fmt: skip
        for kind, runs in results.items()
    }
    print("SUMMARY", json.dumps({k: {m: v for m, v in s.items() if m != "runs"} for k, s in summary.items()}))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
