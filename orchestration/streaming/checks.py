"""Asset checks on the Flink job and the real-time tables: what dbt cannot see.

Bounds come from the settings (STREAMPULSE_FRESHNESS_BOUND_SECONDS, _MAX_CONSUMER_LAG,
_DEAD_LETTER_THRESHOLD, _CHECKPOINT_INTERVAL_MS), so an operator tunes them without code.
"""

from collections.abc import Iterator
from datetime import datetime, timezone

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    asset_check,
    multi_asset_check,
)
from psycopg import sql

from orchestration.resources import FlinkResource, KafkaResource, PostgresResource
from orchestration.streaming.assets import JOB_ASSET, WINDOWED_TABLES
from orchestration.streaming.flink_status import last_checkpoint
from streampulse.settings import get_settings

DEAD_LETTERS = AssetKey(["realtime", "dead_letters"])


def newest_window_ends(postgres: PostgresResource, tables: tuple[str, ...]) -> dict[str, datetime | None]:
    with postgres.connect() as conn:
        return {
            table: conn.execute(
                sql.SQL("select max(window_end) from {}").format(sql.Identifier("realtime", table))
            ).fetchone()[0]
            for table in tables
        }


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            "fresh",
            asset=AssetKey(["realtime", table]),
            description="The newest window ended at most STREAMPULSE_FRESHNESS_BOUND_SECONDS ago (default 300 s): "
            "the job runs, its watermark advances and the sink writes. Fails when no events arrive, too.",
        )
        for table in WINDOWED_TABLES
    ],
    can_subset=True,
    description="Freshness of the windowed real-time tables.",
)
def realtime_tables_fresh(
    context: AssetCheckExecutionContext, postgres: PostgresResource
) -> Iterator[AssetCheckResult]:
    bound = get_settings().freshness_bound_seconds
    wanted = [key.asset_key.path[-1] for key in context.selected_asset_check_keys]
    now = datetime.now(timezone.utc)
    for table, newest in newest_window_ends(postgres, tuple(t for t in WINDOWED_TABLES if t in wanted)).items():
        key = AssetKey(["realtime", table])
        if newest is None:
            yield AssetCheckResult(asset_key=key, check_name="fresh", passed=False, description="No rows yet.")
            continue
        age = (now - newest).total_seconds()
        yield AssetCheckResult(
            asset_key=key,
            check_name="fresh",
            passed=age <= bound,
            metadata={"newest_window_end": newest.isoformat(), "age_s": round(age, 1), "bound_s": bound},
        )


@asset_check(
    asset=JOB_ASSET,
    description="The job is active and its last completed checkpoint is younger than three checkpoint intervals "
    "(at least 30 s): "
    "older means checkpoints fail or stall, and a restart would replay (and delay) that much data.",
)
def flink_checkpoint_recent(flink: FlinkResource) -> AssetCheckResult:
    bound_s = get_settings().checkpoint_stale_s
    job_id = flink.rest.active_job(flink.job_name)
    if job_id is None:
        return AssetCheckResult(passed=False, description=f"No active job named {flink.job_name}.")
    status = last_checkpoint(flink, job_id)
    age = status.get("checkpoint_age_s")
    metadata = {"job_id": job_id, "bound_s": bound_s, **{k: v for k, v in status.items() if v is not None}}
    if age is None:
        return AssetCheckResult(passed=False, metadata=metadata, description="No completed checkpoint yet.")
    return AssetCheckResult(passed=age < bound_s, metadata=metadata)


@asset_check(
    asset=JOB_ASSET,
    description="The job's Kafka consumer group (its job name; Flink commits offsets on each checkpoint) is at "
    "most STREAMPULSE_MAX_CONSUMER_LAG records behind the events topic (default 10,000).",
)
def flink_consumer_lag(flink: FlinkResource, kafka: KafkaResource) -> AssetCheckResult:
    bound = get_settings().max_consumer_lag
    lag = kafka.consumer_lag(flink.job_name, kafka.events_topic)
    # A partition without a committed offset is behind by everything in it.
    total = sum(row.behind for row in lag)
    return AssetCheckResult(
        passed=total <= bound,
        metadata={
            "consumer_group": flink.job_name,
            "topic": kafka.events_topic,
            "lag": total,
            "bound": bound,
            "per_partition": {str(row.partition): row.lag for row in lag},
        },
    )


@asset_check(
    asset=DEAD_LETTERS,
    description="At most STREAMPULSE_DEAD_LETTER_THRESHOLD (default 0) undecodable Kafka records landed in "
    "realtime.dead_letters in the last 24 hours. Metadata: the count and the most frequent errors.",
)
def dead_letters_below_threshold(postgres: PostgresResource) -> AssetCheckResult:
    threshold = get_settings().dead_letter_threshold
    with postgres.connect() as conn:
        if conn.execute("select to_regclass('realtime.dead_letters')").fetchone()[0] is None:
            return AssetCheckResult(passed=False, description="Table realtime.dead_letters does not exist.")
        recent = conn.execute(
            "select count(*) from realtime.dead_letters where recorded_at > now() - interval '24 hours'"
        ).fetchone()[0]
        errors = conn.execute(
            "select left(error, 200), count(*) from realtime.dead_letters where recorded_at > now() - interval "
            "'24 hours' group by 1 order by 2 desc limit 5"
        ).fetchall()
    # A warning, not an error: the job keeps running and the records wait for reprocessing.
    return AssetCheckResult(
        passed=recent <= threshold,
        severity=AssetCheckSeverity.WARN,
        metadata={"rows_last_24h": recent, "threshold": threshold, "top_errors": {e: n for e, n in errors}},
    )
