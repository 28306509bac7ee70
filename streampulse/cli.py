"""`streampulse`: the platform's command line. It owns the local stack's commands and mounts each
stage's own typer app: `keys` (api/cli.py), `flink` (flink_jobs/cli.py; its `reconcile` and `replay`
also at the top level, where they have always been). This module is the only place in `streampulse/`
that imports a stage, and only its `cli` module (docs/architecture.md).
"""

from __future__ import annotations

import typer

from api.cli import app as keys_app
from flink_jobs.cli import app as flink_app
from flink_jobs.cli import reconcile_command, replay_app
from streampulse.logs import setup_logging
from streampulse.stack.cli import app as stack_app

app = typer.Typer(help="StreamPulse command line.", no_args_is_help=True, add_completion=False)
app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local stack.")
app.add_typer(keys_app, name="keys")
app.add_typer(flink_app, name="flink")
app.command("reconcile")(reconcile_command)
app.add_typer(replay_app, name="replay")


def main() -> None:
    setup_logging()
    app(prog_name="streampulse")


if __name__ == "__main__":
    main()
