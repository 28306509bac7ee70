"""The first run shows everything: demo history on an empty topic, the BI marts built, yesterday's report.

`streampulse stack up` (the whole stack, not `--core`) calls `backfill_demo` just before it starts the demo
generator and `build_warehouse` once everything is healthy:

- On an empty events topic (a fresh `.state/`), the last `BACKFILL_MINUTES` of demo traffic are generated at
  full speed first, with one CDN outage in the middle, so every dashboard page (trending's 5-minute windows,
  the CDN anomalies and their drill-down) has data at once, then the demo generator carries on from now.
  A topic that holds events is left alone: history written now would be late for the job.
- The marts are built with `dbt run` once the job has caught up with the backfill (bounded wait), so the
  BI page has them without waiting for the hourly schedule; the daily report of yesterday is rendered when
  the marts have that day and no report does yet.

Both run as subprocesses of the stages (the shared package imports no stage) and never fail `stack up`:
a problem is reported with what to run by hand.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import psycopg

from streampulse.dbt import run_dbt
from streampulse.kafka import consumer_lag
from streampulse.settings import REPO_ROOT, Settings, env_for_children

BACKFILL_MINUTES = 15
# An outage in the backfill's middle minutes, on the node of the largest region (US has traffic enough for
# the detector's 20 requests a minute at the demo rate at any hour): detected and resolved before "now".
OUTAGE = "cdn_outage:node=edge-us-east-1,start=360,duration=240,error_rate=0.6"
CATCH_UP_S = 120
start_of_time = datetime.min.replace(tzinfo=timezone.utc)


def _child_env(settings: Settings) -> dict[str, str]:
    """These settings for a stage's command: its database, topic and report folder (the password in the
    environment, never on a command line)."""
    return env_for_children(settings) | {
        "DATABASE_URL": settings.dsn(),
        "STREAMPULSE_EVENTS_TOPIC": settings.events_topic,
        "STREAMPULSE_REPORTS_DIR": str(settings.reports_dir),
    }


def topic_is_empty(settings: Settings) -> bool:
    rows = consumer_lag(settings.bootstrap_servers, settings.events_topic, groups=["streampulse-first-run"])
    return sum(r.end_offset for r in rows) == 0


def backfill_demo(settings: Settings, say: Callable[[str], None], now: datetime | None = None) -> datetime | None:
    """Generate the last minutes of demo traffic when the topic is empty; the end of the history, or None."""
    if not topic_is_empty(settings):
        return None
    end = (now or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=BACKFILL_MINUTES)
    cmd = [sys.executable, "-m", "generator", "--rate", f"{settings.demo_rate:g}", "--start",
           f"{start:%Y-%m-%dT%H:%M:%S}", "--duration", str(BACKFILL_MINUTES * 60), "--max-speed", "--quiet",
           "--scenario", OUTAGE]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=_child_env(settings), capture_output=True, text=True, timeout=300)
    if done.returncode:
        say(f"demo history not generated (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        return None
    say(f"demo history: {BACKFILL_MINUTES} minutes up to {end:%H:%M} UTC, one CDN outage in them")
    return end


def _marts_exist(settings: Settings) -> bool:
    with psycopg.connect(settings.dsn(), connect_timeout=5) as conn:
        return conn.execute("select to_regclass('marts.daily_kpis') is not null").fetchone()[0]


def _newest_minute(settings: Settings) -> datetime | None:
    with psycopg.connect(settings.dsn(), connect_timeout=5) as conn:
        return conn.execute("select max(window_end) from realtime.content_minute_stats").fetchone()[0]


def build_warehouse(
    settings: Settings, say: Callable[[str], None], history_end: datetime | None, today: date | None = None
) -> None:
    """dbt run once the job has the history; then yesterday's report when the marts have that day. Marts that
    exist already are left to Dagster's schedule (a restart need not wait for dbt), unless history was just
    generated."""
    if history_end is None and _marts_exist(settings):
        return
    if history_end is not None:  # the history's last minute closes once the live events pass it
        deadline = time.monotonic() + CATCH_UP_S
        while time.monotonic() < deadline and not (_newest_minute(settings) or start_of_time) >= history_end:
            time.sleep(2)
    built = run_dbt(settings, "run", log_dir=settings.state_dir / "logs" / "dbt")
    if built.returncode:
        say(f"BI marts not built (dbt run exit {built.returncode}); run `make up` again or the Dagster dbt job. "
            f"{built.stdout.strip()[-400:]}")  # fmt: skip
        return
    say("BI marts built (dbt run)")
    yesterday = (today or datetime.now(timezone.utc).date()) - timedelta(days=1)
    if (settings.reports_dir / yesterday.isoformat()).exists():
        return
    with psycopg.connect(settings.dsn(), connect_timeout=5) as conn:
        has_day = conn.execute("select exists (select 1 from marts.daily_kpis where day = %s)", (yesterday,))
        if not has_day.fetchone()[0]:
            return
    cmd = [sys.executable, "-m", "reports", "--day", yesterday.isoformat()]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=_child_env(settings), capture_output=True, text=True, timeout=300)
    say(f"report of {yesterday}: " + (done.stdout.strip() or f"failed (exit {done.returncode}) {done.stderr[-300:]}"))
