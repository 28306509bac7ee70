"""Read a Flink job's health from the REST API: state, last checkpoint, records in/out, backpressure."""

from orchestration.resources import FlinkResource


def job_health(flink: FlinkResource, job_id: str) -> dict:
    """Plain values (JSON-able) describing one job; used by the health sensor and the asset checks."""
    job = flink.rest.job(job_id)
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
        health["backpressure"] = flink.rest.worst_backpressure(job_id, [v["id"] for v in vertices])
    return health


def last_checkpoint(flink: FlinkResource, job_id: str) -> dict:
    stats = flink.rest.checkpoint_stats(job_id)
    out: dict = {
        "checkpoints_completed": stats.completed,
        "checkpoints_failed": stats.failed,
        "restored_from": stats.restored_path,
    }
    if stats.latest_id is not None:
        out |= {
            "checkpoint_id": stats.latest_id,
            "checkpoint_size_bytes": stats.latest_size_bytes,
            "checkpoint_duration_ms": stats.latest_duration_ms,
            "checkpoint_age_s": round(stats.age_s(), 1),
            "checkpoint_path": stats.latest_path,
        }
    return out
