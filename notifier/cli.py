"""`python -m notifier run` (the stack's component) and `python -m notifier check` (validate the rules file)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from notifier.rules import NotificationConfig, load_config
from notifier.service import GROUP_ID, Status, run_forever, serve_health
from streampulse.settings import get_settings

app = typer.Typer(help="Alert notifications (docs/notifications.md).", no_args_is_help=True)


def _config(path: Path | None) -> NotificationConfig:
    """The notifications file, or exit 2 with what is wrong in it (a bad field, a secret not set)."""
    try:
        return load_config(path)
    except (ValueError, OSError) as exc:  # pydantic's ValidationError is a ValueError
        typer.echo(f"notifications file {path}: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("run")
def run_command(
    group_id: Annotated[str, typer.Option(help="Kafka consumer group (its offsets are the notifier's progress).")] = (
        GROUP_ID
    ),
) -> None:
    """Consume the alerts topic and deliver notifications until SIGTERM or Ctrl-C."""
    from streampulse.logs import setup_logging

    setup_logging()
    settings = get_settings()
    config = _config(settings.notifications_file)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    status = Status()
    server = serve_health(settings.bind_host, settings.notifier_port, status)
    try:
        run_forever(settings, config, stop, group_id=group_id, status=status)
    finally:
        server.shutdown()
    logging.getLogger(__name__).info("notifier stopped")


@app.command("check")
def check_command(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate a notifications file and that every secret it names is set; print its routes."""
    config = _config(path)
    for route in config.routes:
        typer.echo(f"{route.name}: {route.match.model_dump(exclude_none=True)} -> {', '.join(route.channels)}")
    if config.reports:
        typer.echo(f"daily report -> {', '.join(config.reports.channels)}")
