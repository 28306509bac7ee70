"""Faults for the chaos suite (tests/e2e/test_zz_chaos.py, short) and benchmark (bench/chaos.py, long).

Each fault acts on a real process of the local stack through supervisord (or on the test's own generator
process), and `wait_recovered` measures the time until a checkpoint triggered after the fault and after the
job's latest restore has completed (it needs every task running and every sink flushed to PostgreSQL, so it
proves the whole path works), timed by Flink's own acknowledgement; and, where the source's REST metrics
show it, the time the job read new records again.

The local Flink cluster runs with ZooKeeper high availability: after a JobManager crash, the restarted
JobManager recovers the same job (same id) from its newest checkpoint by itself. (Without HA, the Dagster
sensor `flink_job_health` resubmits a missing job from its newest retained checkpoint instead.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from flink_jobs import oracle, runner
from flink_jobs.rest import FlinkRest, all_tasks_running
from streampulse.settings import REPO_ROOT, Settings
from streampulse.stack.supervisor import Supervisor
from streampulse.waiting import wait_until


@dataclass
class Job:
    """A Flink job the suite watches: its name (the Kafka consumer group) and current id."""

    settings: Settings
    name: str
    topic: str
    database: str
    alerts_topic: str
    job_id: str = ""

    def submit(self, from_checkpoint: str | None = None) -> str:
        self.job_id = runner.submit_in_subprocess(
            self.settings,
            topic=self.topic,
            database=self.database,
            job_name=self.name,
            alerts_topic=self.alerts_topic,
            from_checkpoint=from_checkpoint,
        )
        return self.job_id

    @property
    def flink(self) -> FlinkRest:
        return FlinkRest.from_settings(self.settings, timeout_s=5)

    def cancel(self) -> None:
        if self.job_id:
            self.flink.cancel(self.job_id, check=False)


def topic_records(settings: Settings, topic: str) -> int:
    """Records in the topic so far (the sum of its partitions' end offsets)."""
    return sum(oracle.end_offsets(settings, topic))


def source_records(job: dict) -> int:
    """Records the source vertex has emitted in the current attempt."""
    source = next((v for v in job["vertices"] if "Source" in v["name"]), job["vertices"][0])
    metrics = source.get("metrics", {})
    return int(metrics.get("read-records", 0)) + int(metrics.get("write-records", 0))


def first_checkpoint_after_ms(settings: Settings, job_id: str, after_ms: float) -> tuple[int | None, float]:
    """When the first checkpoint triggered after `after_ms` and after the job's latest restore completed
    (its last acknowledgement, epoch ms; None: none yet), from the job's checkpoint history: the time it
    happened, not the time a poll noticed it. Also the time it must follow (epoch ms): a restore after the
    fault moves it on, since only a checkpoint of the restored job proves it runs. A checkpoint triggered
    before the fault may complete just after it (an ack on the wire), so it proves nothing."""
    stats = FlinkRest.from_settings(settings, timeout_s=5).checkpoints(job_id)
    restored = ((stats.get("latest") or {}).get("restored") or {}).get("restore_timestamp") or 0
    since = max(after_ms, restored)
    acks = [c["latest_ack_timestamp"] for c in stats.get("history") or []
            if c.get("status") == "COMPLETED" and (c.get("trigger_timestamp") or 0) > since]  # fmt: skip
    return (min(acks) if acks else None), since


@dataclass(frozen=True)
class Recovery:
    """Seconds from the fault until a checkpoint triggered after it completed (`checkpointed_s`: every task
    running, every sink flushed to PostgreSQL), and until a poll saw the source read new records with every
    task running (`resumed_s`; None when the source's REST metrics stayed stale, as they can after a
    TaskManager restarts under the same resource id)."""

    resumed_s: float | None
    checkpointed_s: float


def wait_recovered(job: Job, fault_at: float, timeout_s: float = 240) -> Recovery:
    """Wait until the job runs every task and has checkpointed since `fault_at` (time.time()) and since its
    latest restore.

    The earliest such checkpoint is kept across polls: the history holds only the newest 10, so a slow
    poll must not lose the first one. Job states come from Flink's REST cache (up to `web.refresh-interval`
    old), so they only decide when to stop polling, never which checkpoint counts."""
    deadline = time.monotonic() + timeout_s
    previous, resumed, checkpointed_ms, since_ms = -1, None, None, None
    while time.monotonic() < deadline:
        state = job.flink.job_if_known(job.job_id)
        try:
            if state:
                ack, since = first_checkpoint_after_ms(job.settings, job.job_id, fault_at * 1000)
                if since != since_ms:  # restored (again): only a checkpoint of this attempt counts
                    since_ms, checkpointed_ms = since, None
                if ack and (checkpointed_ms is None or ack < checkpointed_ms):
                    checkpointed_ms = ack
            running = bool(state) and all_tasks_running(state)
            records = source_records(state) if running else -1
        except (httpx.HTTPError, KeyError, ValueError):
            running, records = False, -1
        if running:
            if previous >= 0 and records > previous:
                resumed = resumed or round(time.time() - fault_at, 1)
            previous = records
            if checkpointed_ms:
                return Recovery(resumed, round(checkpointed_ms / 1000 - fault_at, 1))
        else:  # not (or no longer) running: a restart after a first sign of life starts the count again
            previous, resumed = -1, None
        time.sleep(0.5)
    raise TimeoutError(f"job {job.name} did not recover within {timeout_s:.0f} s")


# What every chaos load carries: incidents the detector must find (an edge node outage, a latency
# degradation, a regional outage), late events (3%, 60-150 s behind) and client retries (1% sent twice).
def hard_cases(start_s: int = 60, duration_s: int = 180) -> list[str]:
    """On a stream that starts on a minute: one good minute, three whole bad ones, then good again, so every
    kind opens (G B{3}) and resolves (G B{3,} E) the same way in every run. A first minute that is already bad
    has no good minute before it and matches nothing."""
    window = f"start={start_s},duration={duration_s}"
    return [
        f"cdn_outage:node=edge-de-fra-1,{window}",
        f"latency_degradation:node=edge-jp-tyo-1,{window}",
        f"regional_outage:region=BR,{window}",
        "late_events:fraction=0.03,min_delay=60,max_delay=150,start=0,duration=86400",
        "duplicates:fraction=0.01,start=0,duration=86400",
    ]


class Generator:
    """The load: `python -m generator` into the job's topic, resumable (--progress-file).

    Real time at `rate` (event time = now) by default; `count` and `max_speed` make a fixed segment. A
    restart after a kill continues the same stream (same seed, start and rate): events sent after the
    last confirmed batch are sent again with their event ids, as an at-least-once producer would.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        rate: float,
        log_file: Path,
        seed: int = 1,
        database: str | None = None,
        scenarios: list[str] | None = None,
        start_ms: int | None = None,
        count: int | None = None,
        max_speed: bool = False,
        nice: int = 0,
    ) -> None:
        self.settings, self.topic, self.rate, self.log_file, self.seed = settings, topic, rate, log_file, seed
        self.database, self.scenarios, self.count, self.max_speed = database, scenarios or [], count, max_speed
        self.nice = nice  # CPU priority (nice): the load stands for clients on other machines
        # By default the stream starts at the current minute: minute windows then line up with the scenarios'
        # start and duration, so an incident is judged on the same minutes in every run.
        self.start_ms = start_ms if start_ms is not None else int(time.time()) // 60 * 60_000
        self.progress_file = log_file.with_suffix(f".{topic}.{self.start_ms}.progress")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        start = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.start_ms / 1000))
        cmd = [sys.executable, "-m", "generator", "--rate", str(self.rate), "--topic", self.topic,
               "--seed", str(self.seed), "--start", start,
               "--progress-file", str(self.progress_file), "--quiet"]  # fmt: skip
        cmd += [arg for s in self.scenarios for arg in ("--scenario", s)] or ["--no-labels"]
        cmd += ["--count", str(self.count)] if self.count else []
        cmd += ["--max-speed"] if self.max_speed else []
        cmd = ["nice", "-n", str(self.nice), *cmd] if self.nice else cmd
        # Labels (the incidents' ground truth) go to the job's own database.
        env = {**os.environ, **({"STREAMPULSE_DATABASE_NAME": self.database} if self.database else {})}
        with self.log_file.open("a") as log:
            self.process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def wait(self, timeout_s: float = 1800) -> int:
        return self.process.wait(timeout=timeout_s) if self.process else 0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def kill9(settings: Settings, component: str) -> int:
    """SIGKILL a supervised component's process (supervisord restarts it: autorestart=unexpected)."""
    supervisor = Supervisor(settings)
    pid = supervisor.info(component)["pid"]
    if not pid:
        raise RuntimeError(f"{component} is not running")
    # The JVM runs under a bash wrapper for Flink: kill the whole process group like a machine crash would.
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    return pid


def wait_component(settings: Settings, component: str, old_pid: int, timeout_s: float = 120) -> None:
    supervisor = Supervisor(settings)

    def back() -> bool:
        info = supervisor.info(component)
        return bool(info and info["pid"] not in (0, old_pid) and info["statename"] == "RUNNING")

    wait_until(back, f"{component} coming back", timeout_s, interval_s=0.5)
