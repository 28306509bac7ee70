"""Reconciliation against Kafka (an asset check) and replay for bug fixes (a job with config).

Both call the library (`flink_jobs.reconcile`, `flink_jobs.replay`) that the CLI uses too, so the
UI, the terminal and the tests run the same code.
"""

from datetime import datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    asset_check,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from orchestration.resources import FlinkResource, KafkaResource, PostgresResource, platform_settings
from orchestration.streaming.assets import JOB_ASSET


@asset_check(
    asset=JOB_ASSET,
    blocking=False,
    description="Reconciliation: recompute every real-time table from the Kafka topic (an independent consumer, "
    "nothing committed; every window whose events the topic still holds) and compare with PostgreSQL row by row. "
    "Fails on any event lost or doubled or any row that differs; the metadata holds the report. Reads the whole "
    "topic: run it on demand (after an incident, before a promotion), not on a tight schedule.",
)
def reconciled_with_kafka(kafka: KafkaResource, postgres: PostgresResource) -> AssetCheckResult:
    from flink_jobs.reconcile import reconcile

    settings = platform_settings(kafka=kafka, postgres=postgres)
    report = reconcile(settings, kafka.events_topic, postgres.database)
    return AssetCheckResult(
        passed=report.ok,
        severity=AssetCheckSeverity.ERROR,
        metadata={**report.summary(), "report": MetadataValue.md(f"```\n{report.render()}\n```")},
    )


class ReplayConfig(Config):
    start: str = Field(description="First event-time minute to replace, ISO 8601 with offset (e.g. 2026-01-01T00:00Z).")
    end: str = Field(description="End (exclusive) of the event-time range to replace, ISO 8601 with offset.")
    overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Settings the fixed logic runs with, e.g. {'anomaly_error_rate_threshold': '0.2'} "
        "(names as in streampulse/settings.py).",
    )
    promote: bool = Field(
        False, description="Promote the replay into the live tables (one transaction) after the diff."
    )


@op(
    description="Reprocess the topic (bounded: earliest offset to its current end) with the overrides into a new "
    "versioned schema realtime_v<N>, diff the chosen range against the live tables, log the diff report and, when "
    "`promote` is set, replace the range's live rows by the replay's in one transaction (old rows kept for rollback)."
)
def replay_range(
    context: OpExecutionContext,
    config: ReplayConfig,
    kafka: KafkaResource,
    postgres: PostgresResource,
    flink: FlinkResource,
) -> dict:
    from flink_jobs import replay

    try:
        start, end = datetime.fromisoformat(config.start), datetime.fromisoformat(config.end)
    except ValueError as exc:
        raise Failure(f"start/end must be ISO 8601 timestamps: {exc}") from None
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        raise Failure("start and end need an offset (e.g. Z) and start must be before end.")
    settings = platform_settings(kafka=kafka, postgres=postgres, flink=flink)
    done = replay.run_replay(settings, config.overrides, kafka.events_topic, postgres.database)
    context.log.info(f"replayed into {done.schema} in {done.seconds:.0f} s (job {done.job_id})")
    diffs = replay.diff_versions(settings, done.version, start, end, postgres.database)
    report = replay.render_diff(done.version, start, end, diffs)
    context.log.info(report)
    result = {"version": done.version, "schema": done.schema, "report": report, "promoted": None}
    if config.promote:
        result["promoted"] = replay.promote(settings, done.version, start, end, postgres.database)
        context.log.info(f"promoted {done.schema} for [{start}, {end}): {result['promoted']}")
    return result


@job(
    description="Replay for bug fixes: reprocess a time range from Kafka with changed logic into versioned tables, "
    "show what changed, optionally promote it atomically. Config: start, end, overrides, promote.",
    tags={"domain": "streaming"},
    executor_def=in_process_executor,
)
def replay_time_range() -> None:
    replay_range()
