"""The OpenAPI document is the truth: `schemathesis run --checks all` against the real API server process over
the pipeline run's database (marts built), authenticated, at least 100 examples per operation, finds nothing.

This is the command a new user would type (the CLI itself, every check, every phase: examples, coverage,
fuzzing, stateful), so every constraint the server enforces must be in the schema and every status it
answers must be documented. The only setting beyond the command line: the endless alerts stream is read up
to its first event (`ready`), which already shows that it is positioned and that its events match the schema.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from api.keys import create_key
from tests.e2e.conftest import PipelineRun
from tests.e2e.test_api_live import serve_api

pytestmark = pytest.mark.stack
EXAMPLES = 100
SEED = 20260101  # fixed, so a CI failure reproduces; vary it locally with STREAMPULSE_SCHEMATHESIS_SEED
CONFIG = """
[[operations]]
include-path = "/v1/alerts/stream"
max-stream-events = 1
"""


@pytest.mark.timeout(900)
def test_schemathesis_run_checks_all_finds_no_failure(pipeline_run: PipelineRun, marts_built: str, tmp_path: Path):
    with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:
        key_value = create_key(conn, "schemathesis", ["read", "acknowledge"])
    key_id = key_value.split("_")[1]
    reports = tmp_path / "reports" / "2026-01-01"  # a report to list and download
    reports.mkdir(parents=True)
    (reports / "report.html").write_text("<html><body>report</body></html>")
    (reports / "top_items.csv").write_text("content_id,events\nmov-000123,42\n")
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    env = {
        "STREAMPULSE_API_RATE_LIMIT": "100000/second",
        "STREAMPULSE_ALERTS_TOPIC": pipeline_run.isolated.alerts_topic,
        "STREAMPULSE_REPORTS_DIR": str(tmp_path / "reports"),
    }
    seed = int(os.environ.get("STREAMPULSE_SCHEMATHESIS_SEED", SEED))
    report = tmp_path / "report"
    try:
        with serve_api(pipeline_run.dsn, **env) as (url, output):
            spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
            cli = str(Path(sys.executable).with_name("schemathesis"))
            options = f"--checks all --max-examples {EXAMPLES} --seed {seed} --workers 2 --no-color"
            cmd = [cli, "--config-file", str(tmp_path / "schemathesis.toml"), "run", f"{url}/openapi.json"]
            cmd += [*options.split(), "--header", f"X-API-Key: {key_value}"]
            cmd += ["--report", "junit,ndjson", "--report-dir", str(report)]
            started = time.monotonic()
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=840, cwd=tmp_path)
            elapsed = time.monotonic() - started
    finally:
        with psycopg.connect(pipeline_run.dsn, autocommit=True) as conn:  # other tests expect them unacknowledged
            conn.execute("delete from api.anomaly_acks where acknowledged_by = %s", (key_id,))
    out = run.stdout + run.stderr
    print(out[-4000:])
    assert run.returncode == 0, out[-20000:]
    operations = sum(len(methods) for methods in spec["paths"].values())
    summary = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", out)
    assert summary and summary.groups() == (str(operations),) * 3, out[-3000:]  # every operation, none skipped
    cases = re.search(r"(\d+) generated", out)
    assert cases and int(cases.group(1)) >= EXAMPLES * operations // 2, out[-3000:]
    per_operation = _cases_per_operation(next(report.glob("*.ndjson")))
    labels = {f"{method.upper()} {path}" for path, methods in spec["paths"].items() for method in methods}
    assert all(per_operation.get(label, {}).get("fuzzing") for label in labels), per_operation  # each one fuzzed
    fuzzed = sorted((per_operation[label]["fuzzing"], label) for label in labels)
    print("test cases per operation (all phases / fuzzing):")
    for label, counts in sorted(per_operation.items()):
        print(f"  {sum(counts.values()):5d} / {counts.get('fuzzing', 0):4d}  {label}")
    logged = "".join(output)
    assert key_value not in logged and "Traceback" not in logged, logged[-5000:]
    print(f"schemathesis --checks all (seed {seed}): {operations} operations, {cases.group(1)} test cases, "
          f"0 failures in {elapsed:.0f} s; fewest fuzzed: {fuzzed[:3]}")  # fmt: skip


def _cases_per_operation(ndjson: Path) -> dict[str, dict[str, int]]:
    """{operation: {phase: test cases}} from schemathesis' NDJSON event report."""
    out: dict[str, dict[str, int]] = {}
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        recorder = (finished or {}).get("recorder") or {}
        if recorder.get("label"):
            phases = out.setdefault(recorder["label"], {})
            phases[finished["phase"]] = phases.get(finished["phase"], 0) + len(recorder.get("cases") or {})
    return out
