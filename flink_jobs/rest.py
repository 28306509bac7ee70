"""The one client for Flink's REST API (https://nightlies.apache.org/flink/flink-docs-release-2.0/docs/ops/rest_api/).

Orchestration, the dashboard, the stack's health checks, the benches and the tests all speak to Flink
through `FlinkRest`, so they agree on what a state, a checkpoint or its size is. Errors are httpx's
(`httpx.HTTPError`): callers that tolerate an unreachable cluster catch that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from streampulse.settings import Settings

# A job in one of these states holds (or is about to hold) slots and reads its topic.
ACTIVE_STATES = frozenset({"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING"})
# A job in one of these states will not run again by itself.
ENDED_STATES = frozenset({"FAILED", "CANCELED", "FINISHED"})
BACKPRESSURE_ORDER = ("ok", "low", "high")


def checkpoint_size(entry: dict) -> int:
    """The size of one checkpoint entry of /jobs/<id>/checkpoints: the bytes it persisted
    (`checkpointed_size`; for full checkpoints equal to the state size), `state_size` where a cluster
    reports only that. The one definition every reader uses."""
    return int(entry.get("checkpointed_size", entry.get("state_size", 0)) or 0)


@dataclass(frozen=True)
class CheckpointStats:
    """A job's checkpoint statistics, flattened: counts, the newest completed checkpoint, the restore."""

    completed: int
    failed: int
    in_progress: int
    latest_id: int | None
    latest_ack_ms: int | None  # when the newest completed checkpoint was acknowledged (epoch ms)
    latest_size_bytes: int | None
    latest_duration_ms: int | None
    latest_path: str | None
    restored_path: str | None  # the checkpoint or savepoint this run started from

    @classmethod
    def from_json(cls, body: dict) -> CheckpointStats:
        counts = body.get("counts") or {}
        latest = body.get("latest") or {}
        completed = latest.get("completed") or {}
        restored = latest.get("restored") or {}
        return cls(
            completed=counts.get("completed", 0),
            failed=counts.get("failed", 0),
            in_progress=counts.get("in_progress", 0),
            latest_id=completed.get("id"),
            latest_ack_ms=completed.get("latest_ack_timestamp"),
            latest_size_bytes=checkpoint_size(completed) if completed else None,
            latest_duration_ms=completed.get("end_to_end_duration"),
            latest_path=completed.get("external_path"),
            restored_path=restored.get("external_path"),
        )

    def age_s(self, now_ms: float | None = None) -> float | None:
        """Seconds since the newest completed checkpoint (None: none completed)."""
        if self.latest_ack_ms is None:
            return None
        return ((now_ms if now_ms is not None else time.time() * 1000) - self.latest_ack_ms) / 1000


def all_tasks_running(job: dict) -> bool:
    """The job (a /jobs/<id> body) and every one of its tasks run: only then it consumes and can checkpoint."""
    return job.get("state") == "RUNNING" and all(v["status"] == "RUNNING" for v in job.get("vertices", []))


class FlinkRest:
    """Typed calls on one Flink cluster's REST endpoint (`url`, e.g. http://127.0.0.1:8081)."""

    def __init__(self, url: str, timeout_s: float = 10) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings, timeout_s: float = 10) -> FlinkRest:
        return cls(settings.flink_url, timeout_s)

    # ----- plumbing ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.url}{path}", timeout=self.timeout_s, **kwargs)
        response.raise_for_status()
        return response

    def get(self, path: str) -> Any:
        """GET a REST path (e.g. `/jobs/<id>/exceptions`) for what has no typed method; raises on HTTP errors."""
        return self._request("GET", path).json()

    def ui_url(self, job_id: str | None = None) -> str:
        """The Web UI, or one job's page in it."""
        return f"{self.url}/#/job/running/{job_id}/overview" if job_id else self.url

    # ----- cluster ----------------------------------------------------------------------------
    def cluster_overview(self) -> dict:
        """/overview: task managers, slots (total, available), job counts, Flink version."""
        return self.get("/overview")

    def cluster_config(self) -> dict:
        """/config: answered by the JobManager alone (before any TaskManager registers)."""
        return self.get("/config")

    def taskmanagers(self) -> list[dict]:
        return self.get("/taskmanagers").get("taskmanagers", [])

    def jobmanager_classpath(self) -> list[str]:
        """/jobmanager/environment: the jars on the JobManager's classpath (paths as the cluster sees them)."""
        return self.get("/jobmanager/environment").get("classpath", [])

    # ----- jobs -------------------------------------------------------------------------------
    def jobs(self) -> list[dict]:
        """/jobs/overview: every job the cluster remembers (jid, name, state, start-time, duration, tasks)."""
        return self.get("/jobs/overview").get("jobs", [])

    def jobs_named(self, name: str) -> list[dict]:
        """The jobs of this name (active and ended), newest first."""
        jobs = [j for j in self.jobs() if j["name"] == name]
        return sorted(jobs, key=lambda j: j.get("start-time", 0), reverse=True)

    def active_job(self, name: str) -> str | None:
        """Id of an active job with this name, or None."""
        return next((j["jid"] for j in self.jobs() if j["name"] == name and j["state"] in ACTIVE_STATES), None)

    def active_job_ids(self) -> set[str]:
        return {j["jid"] for j in self.jobs() if j["state"] in ACTIVE_STATES}

    def job(self, job_id: str) -> dict:
        """/jobs/<id>: state, duration, plan, vertices with their status and metrics."""
        return self.get(f"/jobs/{job_id}")

    def job_if_known(self, job_id: str) -> dict | None:
        """The job, or None when the cluster does not answer or does not know it (yet, or any more)."""
        try:
            return self.job(job_id)
        except httpx.HTTPError:
            return None

    def job_state(self, job_id: str) -> str:
        return self.job(job_id)["state"]

    def job_config(self, job_id: str) -> dict:
        return self.get(f"/jobs/{job_id}/config")

    def job_parameters(self, job_id: str) -> dict[str, str]:
        """The global job parameters the job was submitted with (`pipeline.global-job-parameters`)."""
        return (self.job_config(job_id).get("execution-config", {}).get("user-config")) or {}

    def exceptions(self, job_id: str) -> dict:
        return self.get(f"/jobs/{job_id}/exceptions")

    def cancel(self, job_id: str, check: bool = True) -> None:
        """Cancel a job; `check=False` ignores any error (clean-ups of jobs that may be gone already)."""
        try:
            self._request("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})
        except httpx.HTTPError:
            if check:
                raise

    # ----- checkpoints and savepoints ---------------------------------------------------------
    def checkpoints(self, job_id: str) -> dict:
        """/jobs/<id>/checkpoints as Flink returns it (counts, latest completed/savepoint/restored, history)."""
        return self.get(f"/jobs/{job_id}/checkpoints")

    def checkpoint_stats(self, job_id: str) -> CheckpointStats:
        return CheckpointStats.from_json(self.checkpoints(job_id))

    def trigger_checkpoint(self, job_id: str) -> str:
        """Start a checkpoint now, of the configured kind (REST since Flink 1.17); return the trigger id."""
        body = {"checkpointType": "CONFIGURED"}
        return self._request("POST", f"/jobs/{job_id}/checkpoints", json=body).json()["request-id"]

    def trigger_savepoint(self, job_id: str) -> str:
        """Start a savepoint of a running job (it keeps running); return the trigger id."""
        return self._request("POST", f"/jobs/{job_id}/savepoints", json={"cancel-job": False}).json()["request-id"]

    def trigger_stop_with_savepoint(self, job_id: str, drain: bool = False) -> str:
        """Stop the job gracefully with a final savepoint; return the trigger id."""
        return self._request("POST", f"/jobs/{job_id}/stop", json={"drain": drain}).json()["request-id"]

    def savepoint_status(self, job_id: str, trigger_id: str) -> dict:
        return self.get(f"/jobs/{job_id}/savepoints/{trigger_id}")

    # ----- vertices ---------------------------------------------------------------------------
    def vertex_backpressure(self, job_id: str, vertex_id: str) -> str:
        """ok, low or high."""
        return self.get(f"/jobs/{job_id}/vertices/{vertex_id}/backpressure").get("backpressure-level", "ok")

    def worst_backpressure(self, job_id: str, vertex_ids: list[str]) -> str:
        """The worst backpressure level over these vertices: ok, low or high."""
        worst = "ok"
        for vertex_id in vertex_ids:
            level = self.vertex_backpressure(job_id, vertex_id)
            if level in BACKPRESSURE_ORDER and BACKPRESSURE_ORDER.index(level) > BACKPRESSURE_ORDER.index(worst):
                worst = level
        return worst

    def vertex_metrics(self, job_id: str, vertex_id: str, names: list[str]) -> dict[str, str]:
        """Current values of a vertex's metrics (e.g. `0.numRecordsOutPerSecond`)."""
        body = self.get(f"/jobs/{job_id}/vertices/{vertex_id}/metrics?get={','.join(names)}")
        return {m["id"]: m.get("value") for m in body}
