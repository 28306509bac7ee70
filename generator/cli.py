"""`python -m generator`: produce content-store events to Kafka, with optional incident scenarios."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

from generator import scenarios as scenario_module
from generator.producer import BrokerUnavailable, SchemaRejected
from generator.run import Progress, ResumeMismatch, RunConfig, run_generator
from generator.schema import EVENT_SCHEMA_FILES, LATEST_VERSION
from streampulse.logs import setup_logging
from streampulse.settings import get_settings

app = typer.Typer(add_completion=False, rich_markup_mode=None)
log = logging.getLogger("generator")

EPILOG = "Scenarios (--scenario KIND:key=value,...; start and duration in seconds of event time):\n\n" + "\n\n".join(
    line.strip() for line in scenario_module.describe_kinds().splitlines()
)


@app.command(
    help="Produce Avro content events to Kafka at a target rate (topic: STREAMPULSE_EVENTS_TOPIC). "
    "Example: python -m generator --rate 500 --duration 600 --scenario cdn_outage:node=edge-de-fra-1,start=120",
    epilog=EPILOG,
)
def main(
    rate: Annotated[float, typer.Option(min=0.001, help="Target events per second (event time).")] = 100.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    duration: Annotated[float | None, typer.Option(min=0.001, help="Stop after this many seconds.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, start and rate give the same events.")] = 42,
    scenario: Annotated[list[str], typer.Option(help="An incident, KIND:key=value,... (repeatable).")] = [],  # noqa: B006
    scenario_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="YAML/JSON list of scenarios.")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option(help="First event time (UTC), e.g. 2026-01-01T00:00:00; default: now.")
    ] = None,
    max_speed: Annotated[
        bool, typer.Option("--max-speed", help="Produce as fast as possible (event times still at --rate).")
    ] = False,
    schema_version: Annotated[
        int, typer.Option(min=1, max=LATEST_VERSION, help=f"Event schema version ({sorted(EVENT_SCHEMA_FILES)}).")
    ] = LATEST_VERSION,
    topic: Annotated[str | None, typer.Option(help="Kafka topic (default: the platform's events topic).")] = None,
    no_labels: Annotated[
        bool, typer.Option("--no-labels", help="Do not publish the catalog or record the run in PostgreSQL.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="A log line every 10 s instead of a live progress line.")
    ] = False,
    progress_file: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Resumable run: records how far Kafka has confirmed; started again with the same file, seed, "
            "--start and --rate, the run continues the same stream (events after the last record are resent "
            "with their event ids, and the job counts them once).",
        ),
    ] = None,
) -> None:
    setup_logging()
    try:
        chosen = scenario_module.load(scenario, scenario_file)
    except scenario_module.ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if no_labels and chosen:
        typer.echo("error: scenarios are always labelled in PostgreSQL; drop --no-labels", err=True)
        raise typer.Exit(2)
    config = RunConfig(
        rate=rate,
        count=count,
        duration_s=duration,
        seed=seed,
        start_ms=int(start.replace(tzinfo=start.tzinfo or timezone.utc).timestamp() * 1000) if start else None,
        scenarios=chosen,
        topic=topic,
        schema_version=schema_version,
        max_speed=max_speed,
        record_labels=not no_labels,
        progress_file=progress_file,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    # A live line on the terminal (rich), or a log line every 10 s (--quiet, and under supervisord).
    live = RichProgress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=Console(stderr=True)
    )
    task = live.add_task("starting", total=None)

    def show(p: Progress) -> None:
        line = (
            f"{p.events_per_s:9.0f} ev/s  produced {p.produced:,}  failed {p.failed:,}  "
            f"behind target {p.behind_s:.1f} s"
        )
        if p.done:
            return
        if quiet:
            log.info(f"{line}  ({p.elapsed_s:.0f} s)")
        else:
            live.update(task, description=line)

    try:
        with nullcontext() if quiet else live:
            result = run_generator(get_settings(), config, stop, show, progress_every_s=10 if quiet else 1)
    except (BrokerUnavailable, SchemaRejected) as exc:
        typer.echo(f"\nerror: {exc}", err=True)
        raise typer.Exit(3) from None
    except ResumeMismatch as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = result.report
    assert report is not None
    effects = ", ".join(f"{k} {v:,}" for k, v in result.effects.items())
    typer.echo(
        f"\nrun {result.run_id}: {report.delivered:,} delivered, {report.failed} failed in {result.elapsed_s:.1f} s "
        f"({result.events_per_s:,.0f} ev/s){'; ' + effects if effects else ''}",
        err=True,
    )
