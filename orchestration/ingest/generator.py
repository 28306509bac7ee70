"""The event generator as a Dagster job: launched from the UI with run config, logging progress,
stopped cleanly (flushed, labels finished) when the run is terminated."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from dagster import (
    AssetMaterialization,
    Config,
    DagsterExecutionInterruptedError,
    Failure,
    OpExecutionContext,
    in_process_executor,
    job,
    op,
)
from pydantic import Field

from orchestration.resources import KafkaResource, PostgresResource, platform_settings


class GeneratorConfig(Config):
    """What to produce. Scenarios use the CLI's syntax: KIND:key=value,... (python -m generator --help)."""

    rate: float = Field(100.0, gt=0, description="Target events per second of event time.")
    scenarios: list[str] = Field(
        [], description="Incidents, e.g. cdn_outage:node=edge-de-fra-1,start=60,duration=300 (seconds of event time)."
    )
    seed: int = Field(42, description="Random seed: the same seed, start and rate give the same events.")
    duration_s: float | None = Field(600.0, gt=0, description="Stop after this many seconds; null: until terminated.")
    start: str | None = Field(None, description="First event time, ISO 8601 UTC (default: now, real time).")
    max_speed: bool = Field(False, description="Produce as fast as possible (event times still follow the rate).")
    record_labels: bool = Field(True, description="Publish the catalog and record the run in ground_truth.*.")


def _start_ms(start: str | None) -> int | None:
    if not start:
        return None
    moment = datetime.fromisoformat(start)
    return int(moment.replace(tzinfo=moment.tzinfo or timezone.utc).timestamp() * 1000)


@op(
    description="Run the event generator into the events topic until its duration is over or the run is "
    "terminated; progress is logged every few seconds, the last batch is flushed on termination.",
    tags={"kind": "python"},
)
def generate_events(
    context: OpExecutionContext, config: GeneratorConfig, kafka: KafkaResource, postgres: PostgresResource
) -> dict:
    from generator import scenarios as scenario_module
    from generator.run import Progress, RunConfig, run_generator

    try:
        chosen = scenario_module.load(config.scenarios, None)
    except scenario_module.ScenarioError as exc:
        raise Failure(f"Invalid scenario: {exc}") from exc
    settings = platform_settings(kafka, postgres)
    run_config = RunConfig(
        rate=config.rate,
        duration_s=config.duration_s,
        seed=config.seed,
        start_ms=_start_ms(config.start),
        scenarios=chosen,
        topic=kafka.events_topic,
        max_speed=config.max_speed,
        record_labels=config.record_labels,
    )

    def progress(p: Progress) -> None:
        if not p.done:
            context.log.info(
                f"{p.events_per_s:,.0f} ev/s, produced {p.produced:,}, failed {p.failed:,}, "
                f"behind target {p.behind_s:.1f} s ({p.elapsed_s:.0f} s)"
            )

    # The generator runs in a worker thread: run termination raises in this (main) thread, which then
    # asks the generator to stop and waits for its flush instead of abandoning buffered events.
    stop = threading.Event()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = run_generator(settings, run_config, stop, progress, progress_every_s=5)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the op's thread
            outcome["error"] = exc

    context.log.info(f"Generating into {kafka.events_topic} at {config.rate:g} ev/s, scenarios: {config.scenarios}")
    worker = threading.Thread(target=work, name="generator", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except (DagsterExecutionInterruptedError, KeyboardInterrupt):
        stop.set()
        with _interrupts_ignored():  # a repeated termination request must not cut the flush short
            context.log.warning("Run terminated: stopping the generator and flushing what it produced.")
            worker.join(120)
            if worker.is_alive():
                context.log.error("The generator did not stop within 120 s; its last events may be unconfirmed.")
            if "error" in outcome:
                context.log.error(f"The generator failed while stopping: {outcome['error']!r}")
            _report(context, kafka, outcome, terminated=True)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return _report(context, kafka, outcome, terminated=False)


@contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM (how Dagster delivers run termination) while the generator flushes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report(context: OpExecutionContext, kafka: KafkaResource, outcome: dict, terminated: bool) -> dict:
    result = outcome.get("result")
    if result is None or result.report is None:
        return {}
    summary = {
        "run_id": result.run_id,
        "produced": result.report.produced,
        "delivered": result.report.delivered,
        "failed": result.report.failed,
        "elapsed_s": round(result.elapsed_s, 1),
        "events_per_s": round(result.events_per_s, 1),
        "terminated": terminated,
    }
    context.log.info(f"Generator run {result.run_id}: {summary}")
    context.log_event(
        AssetMaterialization(asset_key="content_events_topic", metadata={"topic": kafka.events_topic, **summary})
    )
    return summary


@job(
    name="run_generator",
    description="Produce content events with the generator: choose rate, incident scenarios, seed and duration "
    "in the launchpad. Terminate the run to stop it; what was produced is flushed and labelled.",
    executor_def=in_process_executor,
    tags={"domain": "ingest"},
)
def generator_job() -> None:
    generate_events()
