"""`python -m generator`: produce content-store events to Kafka at a target rate."""

from __future__ import annotations

import logging
import signal
import sys
import time
from typing import Annotated

import typer

from generator.events import random_events
from generator.producer import BrokerUnavailable, EventProducer
from streampulse.settings import get_settings

app = typer.Typer(add_completion=False)
log = logging.getLogger("generator")


@app.command(help="Produce Avro content events to Kafka (topic from STREAMPULSE_EVENTS_TOPIC).")
def main(
    rate: Annotated[float, typer.Option(min=0.1, help="Target events per second.")] = 100.0,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    duration: Annotated[float | None, typer.Option(min=0.1, help="Stop after this many seconds.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same events.")] = 42,
    topic: Annotated[str | None, typer.Option(help="Kafka topic (default: the platform's events topic).")] = None,
    quiet: Annotated[bool, typer.Option(help="Log a progress line every 10 s instead of a live line.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    stop = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        producer = EventProducer(settings, topic)
    except Exception as exc:  # noqa: BLE001 - registry or broker unreachable at start
        typer.echo(f"error: cannot start producing: {exc}", err=True)
        raise typer.Exit(2) from None
    started = time.monotonic()
    events = random_events(seed, int(time.time() * 1000), rate)
    last_report = started
    try:
        for n, event in enumerate(events, start=1):
            if stop["now"] or (count and n > count) or (duration and time.monotonic() - started >= duration):
                break
            # Event time is wall-clock time when the event is sent (live mode).
            event["event_time"] = int(time.time() * 1000)
            producer.send(event)
            ahead = n / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
            now = time.monotonic()
            if now - last_report >= (10 if quiet else 1):
                last_report = now
                r = producer.report
                line = (
                    f"{n / (now - started):8.0f} ev/s  produced {r.produced}  delivered {r.delivered}  "
                    f"failed {r.failed}  behind target {max(0, -ahead):.1f} s"
                )
                if quiet:
                    log.info(line)
                else:
                    print("\r" + line, end="", file=sys.stderr, flush=True)
        report = producer.flush()
    except BrokerUnavailable as exc:
        typer.echo(f"\nerror: {exc}", err=True)
        raise typer.Exit(3) from None
    elapsed = time.monotonic() - started
    typer.echo(
        f"\ndone: {report.delivered} delivered, {report.failed} failed in {elapsed:.1f} s "
        f"({report.delivered / max(elapsed, 1e-9):.0f} ev/s)",
        err=True,
    )
    if report.failed:
        raise typer.Exit(3)
