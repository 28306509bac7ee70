"""One generator run, as a library call: the CLI and Dagster both use `run_generator`.

Event time is simulated from `start` at `rate` events per second: event i happens at
start + i / rate. In real-time mode (the default) the loop paces itself so event time follows the
wall clock; with `max_speed` it produces as fast as it can (benchmarks, backfills) while the event
times stay those of the target rate, so a run is deterministic for a seed, start and rate.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from generator import labels
from generator.catalog import Catalog, publish
from generator.encoding import BatchEncoder
from generator.model import EventBatch, EventModel
from generator.producer import DeliveryReport, EventProducer
from generator.scenarios import ViralRelease, _Scenario
from generator.schema import LATEST_VERSION
from streampulse.settings import Settings
from streampulse.waiting import wait_until

log = logging.getLogger(__name__)
MAX_BATCH = 10_000


@dataclass
class RunConfig:
    rate: float = 100.0
    count: int | None = None
    duration_s: float | None = None
    seed: int = 42
    start_ms: int | None = None  # first event time; default: now
    scenarios: list[_Scenario] = field(default_factory=list)
    topic: str | None = None
    schema_version: int = LATEST_VERSION
    catalog_size: int = 5000
    max_speed: bool = False
    record_labels: bool = True  # publish the catalog and write runs/incidents to PostgreSQL
    # Resumable runs: after each batch the run writes how many events it has drawn to this file; a run
    # started with the same file (and the same seed, start and rate) continues the same stream after the
    # last batch recorded there. Events sent after that batch but before a crash are sent again, with
    # their original event_id and event time: an at-least-once producer's retries, counted once by the job.
    progress_file: Path | None = None


@dataclass
class Progress:
    run_id: str
    produced: int
    failed: int
    elapsed_s: float
    events_per_s: float
    behind_s: float  # how far production lags behind the target rate (real-time mode)
    done: bool = False
    effects: dict = field(default_factory=dict)
    report: DeliveryReport | None = None


def build_catalog(config: RunConfig, start_ms: int) -> Catalog:
    # New releases are relative to the run's day, so a day's runs share one catalog.
    day = datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return Catalog.build(config.seed, config.catalog_size, now=day)


def total_events(config: RunConfig) -> int | None:
    if config.count is not None:
        return config.count
    if config.duration_s is not None:
        return max(1, int(config.duration_s * config.rate))
    return None


def run_generator(
    settings: Settings,
    config: RunConfig,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 1.0,
) -> Progress:
    """Produce events until count/duration is reached or `stop` is set; flush; return the summary."""
    stop = stop or threading.Event()
    start_ms = config.start_ms if config.start_ms is not None else int(time.time() * 1000)
    catalog = build_catalog(config, start_ms)
    for scenario in config.scenarios:
        if isinstance(scenario, ViralRelease):
            scenario.bind(catalog)
    producer = EventProducer(settings, config.topic, config.schema_version)
    encoder = BatchEncoder(catalog, producer.schema_id, config.schema_version)
    model = EventModel(catalog, config.seed)
    scenario_rng = np.random.default_rng(config.seed + 1)
    run_id = f"{datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if config.record_labels:

        def record(conn: object) -> None:
            publish(conn, catalog)
            labels.record_run(conn, run_id, config.seed, config.rate, producer.topic, config.schema_version,
                              start_ms, config.scenarios)  # fmt: skip

        _write_labels(settings, record, "recording the run's labels", autocommit=False)
        log.info("run %s: catalog of %d items published, %d incidents labelled", run_id, len(catalog),
                 len(config.scenarios))  # fmt: skip

    target = total_events(config)
    step_ms = 1000.0 / config.rate
    per_tick = MAX_BATCH if config.max_speed else int(min(MAX_BATCH, max(1, config.rate / 10)))
    effects: dict = {}
    sent = 0  # events drawn (before duplicates)
    fingerprint = _fingerprint(config, start_ms, producer.topic)
    resume_at, first_started_at = _resume_point(config.progress_file, fingerprint)
    if resume_at:
        log.info("resuming after event %d (from %s)", resume_at, config.progress_file)
    # A resumed run keeps the first run's timeline: in real time it catches up on the downtime, then follows
    # the clock, as the uninterrupted run would have.
    wall_start = time.monotonic() - (time.time() - first_started_at)
    run_started = last_saved = last_progress = time.monotonic()
    behind = 0.0
    happened = [s for s in config.scenarios if not s.in_delivery]
    delivery = [s for s in config.scenarios if s.in_delivery]

    def what_happened(batch: EventBatch) -> EventBatch:
        for scenario in happened:
            batch = scenario.apply(batch, start_ms, scenario_rng, effects)
        return batch

    while not stop.is_set() and (target is None or sent < target):
        n = per_tick if target is None else min(per_tick, target - sent)
        times = (start_ms + np.arange(sent, sent + n) * step_ms).astype(np.int64)
        boost = None
        for scenario in config.scenarios:
            rb = scenario.region_boost()
            begin, end = scenario.window_ms(start_ms)
            if rb is not None and begin <= times[n // 2] < end:
                boost = rb if boost is None else boost * rb
        batch = model.draw(times, region_boost=boost, adjust=what_happened if happened else None)
        for scenario in delivery:
            batch = scenario.apply(batch, start_ms, scenario_rng, effects)
        if sent >= resume_at:  # batches before the resume point are drawn (same random stream) but not sent
            producer.send_encoded(encoder.messages(batch))
        sent += n
        now = time.monotonic()
        if config.progress_file is not None and sent > resume_at and now - last_saved >= 1.0:
            producer.flush()  # only what Kafka confirmed is recorded: a resume may repeat events, never skip one
            _record_progress(config.progress_file, sent, first_started_at, fingerprint)
            last_saved = now
        if not config.max_speed:
            ahead = sent / config.rate - (now - wall_start)
            behind = max(0.0, -ahead)
            if ahead > 0:
                stop.wait(ahead)
        if on_progress and now - last_progress >= progress_every_s:
            last_progress = now
            r = producer.report
            on_progress(Progress(run_id, r.produced, r.failed, now - run_started, r.produced / (now - run_started),
                                 behind, effects=dict(effects)))  # fmt: skip
    report = producer.flush()
    if config.progress_file is not None and sent > resume_at:
        _record_progress(config.progress_file, sent, first_started_at, fingerprint)
    elapsed = time.monotonic() - run_started
    if config.record_labels:
        _write_labels(
            settings,
            lambda conn: labels.finish_run(conn, run_id, report.produced, report.delivered, report.failed, effects),
            "recording the run's outcome",
        )
    final = Progress(run_id, report.produced, report.failed, elapsed, report.delivered / max(elapsed, 1e-9), behind,
                     done=True, effects=effects, report=report)  # fmt: skip
    if on_progress:
        on_progress(final)
    return final


def _fingerprint(config: RunConfig, start_ms: int, topic: str) -> dict:
    """What makes a stream: a resume with anything else would draw other batches (or other event ids)."""
    per_tick = MAX_BATCH if config.max_speed else int(min(MAX_BATCH, max(1, config.rate / 10)))
    return {"seed": config.seed, "rate": config.rate, "start_ms": start_ms, "per_tick": per_tick, "topic": topic,
            "catalog_size": config.catalog_size, "schema_version": config.schema_version,
            "scenarios": [s.model_dump(mode="json") for s in config.scenarios]}  # fmt: skip


class ResumeMismatch(ValueError):
    """The progress file was written by a run of another stream."""


def _resume_point(progress_file: Path | None, fingerprint: dict) -> tuple[int, float]:
    """(events already drawn and confirmed, wall-clock start of the first run) from the progress file."""
    if progress_file is None or not progress_file.exists():
        return 0, time.time()
    state = json.loads(progress_file.read_text())
    if state["stream"] != fingerprint:
        changed = sorted(k for k in fingerprint if state["stream"].get(k) != fingerprint[k])
        raise ResumeMismatch(
            f"{progress_file} belongs to another stream (different {', '.join(changed)}): resume with the same "
            "--seed, --start, --rate, scenarios and topic, or use a new progress file"
        )
    return int(state["drawn"]), float(state["started_at"])


def _record_progress(progress_file: Path, drawn: int, started_at: float, fingerprint: dict) -> None:
    # Write-then-rename: a crash leaves the old record or the new one, never a torn file.
    tmp = progress_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"drawn": drawn, "started_at": started_at, "stream": fingerprint}))
    tmp.replace(progress_file)


def _write_labels(
    settings: Settings, write: Callable[[object], None], what: str, autocommit: bool = True, timeout_s: float = 120
) -> None:
    """Write to the label store, waiting out a database that is restarting (a crash must not fail a run
    whose events Kafka already confirmed)."""
    import psycopg

    def attempt() -> bool:
        with psycopg.connect(settings.dsn(), autocommit=autocommit, connect_timeout=5) as conn:
            write(conn)
        return True

    wait_until(attempt, what, timeout_s, interval_s=2, retry_on=(psycopg.OperationalError,))
