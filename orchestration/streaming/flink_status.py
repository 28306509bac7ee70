"""Read a Flink job's health from the REST API: state, last checkpoint, records in/out, backpressure."""

import time

from orchestration.resources import FlinkResource

BACKPRESSURE_ORDER = ["ok", "low", "high"]


def job_health(flink: FlinkResource, job_id: str) -> dict:
    """Plain values (JSON-able) describing one job; used by the health sensor and the asset checks."""
    job = flink.get(f"/jobs/{job_id}")
    nodes = job.get("plan", {}).get("nodes", [])
    feeds = {i["id"] for n in nodes for i in n.get("inputs", [])}
    sources = {n["id"] for n in nodes if not n.get("inputs")}
    sinks = {n["id"] for n in nodes if n["id"] not in feeds}
    vertices = job.get("vertices", [])
    health: dict = {
        "job_id": job_id,
        "state": job.get("state"),
        "uptime_s": round(job.get("duration", 0) / 1000),
        # Records the sources read from Kafka, and records received by the vertices that end in a sink
        # (Flink's "Records Received"; a sink vertex aggregates first, so this is not rows written).
        "records_in": sum(v.get("metrics", {}).get("read-records", 0) for v in vertices if v["id"] in sources),
        "records_out": sum(v.get("metrics", {}).get("read-records", 0) for v in vertices if v["id"] in sinks),
    }
    health.update(last_checkpoint(flink, job_id))
    if job.get("state") == "RUNNING":
        health["backpressure"] = backpressure(flink, job_id, [v["id"] for v in vertices])
    return health


def last_checkpoint(flink: FlinkResource, job_id: str) -> dict:
    stats = flink.get(f"/jobs/{job_id}/checkpoints")
    completed = (stats.get("latest") or {}).get("completed")
    restored = (stats.get("latest") or {}).get("restored") or {}
    out: dict = {
        "checkpoints_completed": stats.get("counts", {}).get("completed", 0),
        "checkpoints_failed": stats.get("counts", {}).get("failed", 0),
        "restored_from": restored.get("external_path"),
    }
    if completed:
        out |= {
            "checkpoint_id": completed["id"],
            "checkpoint_size_bytes": completed.get("checkpointed_size", completed.get("state_size", 0)),
            "checkpoint_duration_ms": completed.get("end_to_end_duration"),
            "checkpoint_age_s": round(time.time() - completed["latest_ack_timestamp"] / 1000, 1),
            "checkpoint_path": completed.get("external_path"),
        }
    return out


def backpressure(flink: FlinkResource, job_id: str, vertex_ids: list[str]) -> str:
    """The worst backpressure level over the job's vertices: ok, low or high."""
    worst = "ok"
    for vertex_id in vertex_ids:
        level = flink.get(f"/jobs/{job_id}/vertices/{vertex_id}/backpressure").get("backpressure-level", "ok")
        if level in BACKPRESSURE_ORDER and BACKPRESSURE_ORDER.index(level) > BACKPRESSURE_ORDER.index(worst):
            worst = level
    return worst
