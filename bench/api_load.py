"""Benchmark: REST API requests/s and latency for trending and content stats, on loopback.

Fills a dedicated database with >= 10 million rows of minute aggregates (generate_series in SQL: 5,000 items
x 2,000 minutes of realtime.content_minute_stats, plus 13 scopes x 2,000 windows x top 10 of
realtime.trending and a 5,000-item catalog), starts uvicorn (`--workers`, uvloop, httptools, no access log)
with a read key, and drives it with `wrk` (C, one thread, keep-alive connections; `apt-get install wrk`)
through Lua scripts that ask for random items, hours, scopes and windows. Each scenario runs several times;
the median is reported with the p50/p99 of that run (wrk's histogram, microsecond resolution), and the worst
p99 of all runs.

The rate limiter is on (a sliding window counter per key, with a limit far above the offered load so that it never
answers 429: any 429 would count as an error) and every request carries an API key that is checked (`read`
scope; verified keys are remembered for `STREAMPULSE_API_KEY_CACHE_SECONDS`, as in production). The JSON
records both, the arguments, the core count, the load average around every run and the API's CPU time per
request (user + system of its processes: the figure that does not depend on other work on the machine).

`--compare-with REV` also serves the API code of git revision REV (its `api/` package; everything else from
the work tree) over the same database and alternates its runs with the current code's (before, after,
before, ...), so that both see the same machine load; the JSON then holds both and their ratios.

    .venv/bin/python bench/api_load.py [--items 5000] [--minutes 2000] [--runs 3] [--duration 15]
                                       [--connections 16] [--workers 2] [--keep-db] [--compare-with REV]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psutil
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.keys import create_key  # noqa: E402
from streampulse import bootstrap  # noqa: E402
from streampulse.settings import get_settings  # noqa: E402
from streampulse.waiting import wait_until  # noqa: E402

DATABASE = "bench_api"
T0_EPOCH = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
SCOPES = ["GLOBAL", "AU", "BR", "CA", "DE", "ES", "FR", "GB", "IN", "JP", "KR", "MX", "US"]

FILL_SQL = """
insert into catalog.content (content_id, title, content_type, genre, released_at, price_usd_cents, popularity)
select format('mov-%%s', lpad(c::text, 6, '0')), format('Title %%s', c), 'MOVIE', 'Drama',
       timestamptz '2025-01-01' + c * interval '1 hour', 399, 1.0 / c
from generate_series(1, %(items)s) c;
-- Ordered by the primary key (content_id, window_start): the index is appended to, not scattered.
insert into realtime.content_minute_stats
select format('mov-%%s', lpad(c::text, 6, '0')), timestamptz '2026-01-01' + m * interval '1 minute',
       timestamptz '2026-01-01' + (m + 1) * interval '1 minute',
       e, e / 4, e / 5, e / 50, e / 3, e / 3, e / 20, e::bigint * 1000000, greatest(e - 2, 1),
       80 + (c %% 40), 150 + (m %% 90)
from generate_series(1, %(items)s) c, generate_series(0, %(minutes)s - 1) m,
     lateral (select 1 + ((c * 7919 + m * 104729) %% 97)::bigint as e) ev;
insert into realtime.trending
select s, timestamptz '2026-01-01' + (w - 5) * interval '1 minute', timestamptz '2026-01-01' + w * interval '1 minute',
       r, format('mov-%%s', lpad((1 + (w * 31 + r * 17 + length(s)) %% %(items)s)::text, 6, '0')), 100 - r, 60 - r,
       40, 10.0 - r / 2.0
from unnest(%(scopes)s::text[]) s, generate_series(5, %(minutes)s) w, generate_series(1, 10) r;
"""

CONTENT_LUA = """
math.randomseed(%(seed)d)
request = function()
  local c = math.random(1, %(items)d)
  local m = math.random(0, %(minutes)d - 61)
  local path = string.format("/v1/content/mov-%%06d/stats?start=%%s&end=%%s", c,
    os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", %(t0)d + m * 60), os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", %(t0)d + (m + 60) * 60))
  return wrk.format("GET", path, {["X-API-Key"] = "%(key)s"})
end
"""
TRENDING_LUA = """
math.randomseed(%(seed)d)
local scopes = {%(scopes)s}
request = function()
  local s = scopes[math.random(1, #scopes)]
  local m = math.random(5, %(minutes)d)
  local path = string.format("/v1/trending?region=%%s&limit=10&at=%%s", s,
    os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", %(t0)d + m * 60 + 30))
  return wrk.format("GET", path, {["X-API-Key"] = "%(key)s"})
end
"""
DONE_LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout, latency.max))
end
"""


def fill(dsn: str, items: int, minutes: int) -> dict:
    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set synchronous_commit = off")
        for statement in FILL_SQL.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"items": items, "minutes": minutes, "scopes": SCOPES})
        conn.execute("vacuum (analyze) realtime.content_minute_stats, realtime.trending, catalog.content")
        rows = conn.execute("select count(*) from realtime.content_minute_stats").fetchone()[0]
        size = conn.execute("select pg_size_pretty(pg_total_relation_size('realtime.content_minute_stats'))").fetchone()
    return {"content_minute_rows": rows, "table_size": size[0], "fill_seconds": round(time.monotonic() - started, 1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RATE_LIMIT = "1000000/second"  # on, but far above what 2 cores can serve: it never answers 429 here
POOL_SIZE = 8


def start_api(dsn: str, port: int, workers: int, code_dir: Path = REPO) -> subprocess.Popen:
    """uvicorn serving `api` from `code_dir` (the work tree, or an exported older revision of `api/`)."""
    path = os.pathsep.join(dict.fromkeys([str(code_dir), str(REPO)]))  # `api` from code_dir, the rest from REPO
    env = dict(os.environ, DATABASE_URL=dsn, STREAMPULSE_API_RATE_LIMIT=RATE_LIMIT,
               STREAMPULSE_API_POOL_SIZE=str(POOL_SIZE), PYTHONPATH=path)  # fmt: skip
    cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=code_dir, env=env)
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200,
                   "the API becoming ready", 60, interval_s=0.5, retry_on=(httpx.HTTPError,))  # fmt: skip
    except TimeoutError as exc:
        proc.kill()
        raise SystemExit(str(exc)) from None
    return proc


def cpu_seconds(proc: subprocess.Popen) -> float:
    """User + system CPU time of the API's process tree (uvicorn's supervisor and its workers)."""
    root = psutil.Process(proc.pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])


def wrk(url: str, script: str, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script + DONE_LUA)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", f.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, duration_us, p50, p99, errors, worst = map(int, line.split()[1:])
    return {"requests_per_s": round(requests / (duration_us / 1e6), 1), "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
            "max_ms": worst / 1000, "errors": errors, "requests": requests}  # fmt: skip


def export_api(rev: str, into: Path) -> str:
    """Write the `api/` package of git revision `rev` under `into`; return the full commit id."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.strip()  # fmt: skip
    archive = subprocess.run(["git", "archive", commit, "api"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


def current_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "api"], cwd=REPO, capture_output=True, text=True).stdout
    return out + (" + uncommitted changes in api/" if dirty.strip() else "")


def summarize(runs: list[dict]) -> dict:
    """The median run by requests/s, and the worst p99 and the highest load average of all runs."""
    median = sorted(runs, key=lambda r: r["requests_per_s"])[len(runs) // 2]
    return {"median": median, "worst_p99_ms": max(r["p99_ms"] for r in runs),
            "max_load_average_1m": max(r["load_average_1m"] for r in runs),
            "errors": sum(r["errors"] for r in runs), "runs": runs}  # fmt: skip


def explain(dsn: str) -> dict:
    """The plans of the two hot queries, as the API runs them (for docs/api.md)."""
    from api.routers.content import MINUTE_SQL
    from api.routers.trending import TRENDING_SQL

    with psycopg.connect(dsn) as conn:
        plans = {}
        for name, sql, params in (
            ("content_stats", MINUTE_SQL,
             {"id": "mov-000042", "start": "2026-01-01T10:00Z", "end": "2026-01-01T11:00Z"}),
            ("trending", TRENDING_SQL, {"scope": "DE", "at": "2026-01-01T12:00:30Z", "limit": 10}),
        ):  # fmt: skip
            rows = conn.execute("explain (analyze, buffers, costs off, timing off) " + sql, params).fetchall()
            plans[name] = [r[0] for r in rows]
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--minutes", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep-db", action="store_true", help="reuse a filled bench database; keep it afterwards")
    parser.add_argument("--compare-with", metavar="REV", help="also measure the api/ package of this git revision")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "api_load.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    settings = get_settings()
    dsn = settings.dsn(DATABASE)
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if exists and not args.keep_db:
            conn.execute(f"drop database {DATABASE} with (force)")
            exists = None
    bootstrap.ensure_database(settings, DATABASE)
    bootstrap.apply_migrations(settings, DATABASE)
    data = {"content_minute_rows": None}
    if not exists:
        print(f"filling {args.items * args.minutes:,} minute rows ...", flush=True)
        data = fill(dsn, args.items, args.minutes)
        print(data, flush=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Index-only scans need a current visibility map (a migration may have rewritten a kept table).
        conn.execute("vacuum (analyze) realtime.content_minute_stats, realtime.trending")
        key = create_key(conn, "bench", ["read"])
        data["content_minute_rows"] = conn.execute("select count(*) from realtime.content_minute_stats").fetchone()[0]
        data["table_size"] = conn.execute(
            "select pg_size_pretty(pg_total_relation_size('realtime.content_minute_stats'))"
        ).fetchone()[0]

    load_before = os.getloadavg()
    versions = {"current": (REPO, current_commit())}
    tmp = None
    if args.compare_with:
        tmp = Path(tempfile.mkdtemp(prefix="api_load_"))
        versions = {"before": (tmp, export_api(args.compare_with, tmp))} | {"after": versions["current"]}
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    scenarios: dict[str, dict] = {}
    try:
        for name, (code_dir, _) in versions.items():
            port = free_port()
            servers[name] = (start_api(dsn, port, args.workers, code_dir), port)
        common = {"key": key, "items": args.items, "minutes": args.minutes, "t0": T0_EPOCH}
        scripts = {
            "content_stats": CONTENT_LUA % (common | {"seed": 1}),
            "trending": TRENDING_LUA % (common | {"seed": 2, "scopes": ", ".join(f'"{s}"' for s in SCOPES)}),
        }
        for scenario, script in scripts.items():
            runs: dict[str, list[dict]] = {name: [] for name in versions}
            for _proc, port in servers.values():  # warm-up: pools, prepared statements, caches of the key
                wrk(f"http://127.0.0.1:{port}", script, 3, args.connections)
            for _ in range(args.runs):
                for name, (proc, port) in servers.items():  # alternated: both versions see the same load
                    cpu_before = cpu_seconds(proc)
                    run = wrk(f"http://127.0.0.1:{port}", script, args.duration, args.connections)
                    # Load-independent: the API's CPU per request (the machine may be shared with other work).
                    run["api_cpu_ms_per_request"] = round((cpu_seconds(proc) - cpu_before) * 1000 / run["requests"], 3)
                    run["load_average_1m"] = round(os.getloadavg()[0], 2)
                    runs[name].append(run)
            scenarios[scenario] = {name: summarize(r) for name, r in runs.items()}
            if "before" in runs:
                b, a = (scenarios[scenario][n]["median"] for n in ("before", "after"))
                scenarios[scenario]["after_over_before"] = {
                    "requests_per_s": round(a["requests_per_s"] / b["requests_per_s"], 2),
                    "p99_ms": round(a["p99_ms"] / b["p99_ms"], 2),
                    "api_cpu_ms_per_request": round(a["api_cpu_ms_per_request"] / b["api_cpu_ms_per_request"], 2),
                }
            print(f"{scenario}: " + "; ".join(f"{n} {s['median']}" for n, s in scenarios[scenario].items()
                                              if n in versions), flush=True)  # fmt: skip
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    plans = explain(dsn)
    if not args.keep_db:
        with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"drop database {DATABASE} with (force)")

    settings_used = get_settings()
    result = {
        "benchmark": "api_load",
        "when": datetime.now(timezone.utc).isoformat(),
        "arguments": vars(args),
        "command": "bench/api_load.py " + " ".join(sys.argv[1:]),
        "cores": os.cpu_count(),
        # The machine is shared: a load average far above the core count means other work competed for CPU.
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "data": data,
        "code": {name: commit for name, (_, commit) in versions.items()},
        "server": f"uvicorn --workers {args.workers} --loop uvloop --http httptools, pool {POOL_SIZE} per worker",
        "rate_limiter": {
            "enabled": True,
            "limit": RATE_LIMIT,
            "strategy": "sliding window counter per API key (limits)",
            "storage": settings_used.api_rate_limit_storage,
        },
        "api_key": {
            "checked": True,
            "scope": "read",
            "verified_key_cache_seconds": settings_used.api_key_cache_seconds,
        },
        "load": f"wrk -t1 -c{args.connections} -d{args.duration}s, {args.runs} runs per version, median by requests/s",
        "scenarios": scenarios,
        "query_plans": plans,
        "goal": "1500 req/s with p99 <= 25 ms on 2 cores",
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    last = "after" if args.compare_with else "current"
    parts = []
    for name, sc in scenarios.items():
        m = sc[last]["median"]
        part = (f"{name} {m['requests_per_s']:.0f} req/s p50 {m['p50_ms']:.1f} ms p99 {m['p99_ms']:.1f} ms "
                f"(worst {sc[last]['worst_p99_ms']:.1f}) cpu {m['api_cpu_ms_per_request']:.2f} ms/req")  # fmt: skip
        if "after_over_before" in sc:
            r = sc["after_over_before"]
            part += f" [x{r['requests_per_s']:.2f} req/s, x{r['api_cpu_ms_per_request']:.2f} CPU/req vs before]"
        parts.append(part)
    print(f"api_load: {data['content_minute_rows']:,} minute rows, {os.cpu_count()} cores, load average "
          f"{load_before[0]:.1f}-{os.getloadavg()[0]:.1f}, rate limiter on, keys checked: "
          + "; ".join(parts))  # fmt: skip


if __name__ == "__main__":
    main()
