"""The job's retained state: savepoints, the point a new run restores from, and retention.

Retention deletes folders on this machine, so it acts only on the local cluster's state directory: when
Flink is external (STREAMPULSE_FLINK_REST_URL set) its checkpoints live on the cluster's shared storage,
which that cluster's own retention manages, and `prune_retained_state` refuses.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from flink_jobs.rest import FlinkRest
from streampulse.settings import Settings
from streampulse.waiting import wait_until

JOB_ID = re.compile(r"[0-9a-f]{32}")  # Flink job ids name the checkpoint folders


def checkpoint_root(settings: Settings, job_name: str) -> Path:
    """Where the local cluster keeps this job name's checkpoints: <root>/<job name>/<job id>/chk-N."""
    return settings.data_dir / "flink" / "checkpoints" / job_name


def wait_for_savepoint(settings: Settings, job_id: str, trigger_id: str, timeout_s: float = 300) -> str:
    """The savepoint's path once the triggered operation completed; RuntimeError when it failed."""
    flink = FlinkRest.from_settings(settings)

    def completed() -> dict | None:
        status = flink.savepoint_status(job_id, trigger_id)
        return status.get("operation", {}) if status.get("status", {}).get("id") == "COMPLETED" else None

    operation = wait_until(completed, f"Savepoint of job {job_id}", timeout_s, interval_s=0.5)
    if "location" in operation:
        return operation["location"]
    cause = operation.get("failure-cause", {}).get("stack-trace", "unknown cause")
    raise RuntimeError(f"Savepoint of job {job_id} failed: {cause.splitlines()[0]}")


def trigger_savepoint(settings: Settings, job_id: str, timeout_s: float = 300) -> str:
    """Take a savepoint of a running job (it keeps running); return the savepoint's path."""
    trigger = FlinkRest.from_settings(settings).trigger_savepoint(job_id)
    return wait_for_savepoint(settings, job_id, trigger, timeout_s)


def stop_with_savepoint(settings: Settings, job_id: str, timeout_s: float = 300) -> str:
    """Stop the job gracefully with a final savepoint (no record is processed after it); return its path."""
    trigger = FlinkRest.from_settings(settings).trigger_stop_with_savepoint(job_id)
    return wait_for_savepoint(settings, job_id, trigger, timeout_s)


def _exists(path: str) -> bool:
    """A file:// restore point still on disk (other schemes cannot be checked here: assume yes)."""
    if not path.startswith("file:"):
        return True
    local = Path(urlsplit(path).path)
    return (local / "_metadata").exists() or local.name == "_metadata" and local.exists()


def latest_restore_point(settings: Settings, job_name: str) -> str | None:
    """Newest retained state of the job's latest run that has one: its last checkpoint or savepoint,
    or, when it took none yet, the state it was itself restored from."""
    flink = FlinkRest.from_settings(settings)
    for job in flink.jobs_named(job_name):
        latest = flink.checkpoints(job["jid"]).get("latest") or {}
        candidates = [
            (entry.get("latest_ack_timestamp") or 0, entry.get("external_path"))
            for entry in (latest.get("completed"), latest.get("savepoint"))
            if entry
        ]
        restored = latest.get("restored")
        if restored:
            candidates.append((restored.get("restore_timestamp") or 0, restored.get("external_path")))
        for _, path in sorted(candidates, key=lambda c: c[0], reverse=True):
            if path and _exists(path):
                return path
    return None


def latest_checkpoint(settings: Settings, job_name: str) -> str | None:
    """Newest retained checkpoint of any earlier run of the job: from the REST API, else the local dir
    (after a JobManager restart the REST API forgets earlier runs)."""
    flink = FlinkRest.from_settings(settings)
    try:
        for job in flink.jobs_named(job_name):
            path = flink.checkpoint_stats(job["jid"]).latest_path
            if path:
                return path
    except httpx.HTTPError:
        pass
    if settings.flink_external:
        return None
    metas = sorted(checkpoint_root(settings, job_name).glob("*/chk-*/_metadata"), key=lambda p: p.stat().st_mtime)
    return metas[-1].parent.as_uri() if metas else None


class ExternalFlinkError(RuntimeError):
    """Retention was asked to delete local folders while the job's state lives on an external cluster."""


def prune_retained_state(
    settings: Settings, max_age_s: float, keep_savepoints: int, protect: frozenset[str] = frozenset()
) -> list[Path]:
    """Delete checkpoint folders of jobs that no longer run and savepoints beyond the newest
    `keep_savepoints`, when older than `max_age_s`. Never touches an active job's folder or a
    path in `protect` (the restore point the platform job would resume from). Local cluster only."""
    if settings.flink_external:
        raise ExternalFlinkError(
            f"Flink is external ({settings.flink_url}): its retained state is on the cluster's storage, not in "
            f"{settings.data_dir / 'flink'}; retention of local folders refused (use the cluster's own retention)."
        )
    active = FlinkRest.from_settings(settings).active_job_ids()
    protected = [Path(urlsplit(p).path) for p in protect if p]
    cutoff = time.time() - max_age_s
    root = settings.data_dir / "flink"

    def newest_mtime(folder: Path) -> float:
        return max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.rglob("*"))])

    def guarded(folder: Path) -> bool:
        return any(p == folder or folder in p.parents for p in protected)

    # Job folders: <root>/<job id> (clusters' default layout) and <root>/<job name>/<job id> (ours).
    job_folders = []
    for folder in sorted((root / "checkpoints").glob("*")):
        if JOB_ID.fullmatch(folder.name):
            job_folders.append(folder)
        elif folder.is_dir():
            job_folders += [f for f in sorted(folder.glob("*")) if JOB_ID.fullmatch(f.name)]
    removed: list[Path] = []
    for folder in job_folders:
        if folder.is_dir() and folder.name not in active and not guarded(folder) and newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    savepoint_dirs = sorted((root / "savepoints").glob("savepoint-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for folder in savepoint_dirs[keep_savepoints:]:
        if not guarded(folder) and newest_mtime(folder) < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
