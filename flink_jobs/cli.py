"""`streampulse flink ...` (also `python -m flink_jobs.runner ...`): the analytics job's commands.

Render and submit the job; reconcile its tables against Kafka; replay a range with a changed rule. The
top-level `streampulse` CLI mounts this app (and `reconcile` / `replay` at its top level, their old place).
Heavy imports (PyFlink, pandas) happen inside the commands, so mounting costs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from flink_jobs.runner import SQL_DIR
from streampulse.settings import get_settings

app = typer.Typer(help="The Flink analytics job: render, submit, reconcile, replay.", no_args_is_help=True,
                  add_completion=False)  # fmt: skip


@app.command("submit")
def submit_command(
    topic: Annotated[str | None, typer.Option(help="Events topic (default from settings).")] = None,
    database: Annotated[str | None, typer.Option(help="PostgreSQL database for the sinks.")] = None,
    job_name: Annotated[
        str | None, typer.Option(help="Flink job name; also the Kafka consumer group (default from settings).")
    ] = None,
    from_checkpoint: Annotated[str | None, typer.Option(help="Restore from this checkpoint/savepoint.")] = None,
    alerts_topic: Annotated[str | None, typer.Option(help="Alerts topic (default from settings).")] = None,
    sql_dir: Annotated[Path, typer.Option(help="Directory of the job's SQL files.")] = SQL_DIR,
    realtime_schema: Annotated[str, typer.Option(help="PostgreSQL schema the sinks write.")] = "realtime",
    bounded: Annotated[
        bool, typer.Option(help="Read from the earliest to the current end offsets, then finish.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {job_id, sql_version} as JSON.")] = False,
) -> None:
    """Submit the job to the cluster at STREAMPULSE_FLINK_REST_URL (default: the local cluster)."""
    from flink_jobs import deploy, runner

    settings = get_settings()
    spec = deploy.JobSpec(
        topic=topic,
        database=database,
        job_name=job_name,
        from_checkpoint=from_checkpoint,
        alerts_topic=alerts_topic,
        sql_dir=sql_dir,
        realtime_schema=realtime_schema,
        bounded=bounded,
    )
    job_id = deploy.submit(settings, spec)
    version = runner.sql_version(sql_dir)
    if as_json:
        print(json.dumps({"job_id": job_id, "sql_version": version, "from_checkpoint": from_checkpoint}))
    else:
        print(f"submitted {job_name or settings.flink_job_name}: job id {job_id} (SQL {version})")


@app.command("render")
def render_command(topic: str | None = None, database: str | None = None) -> None:
    """Print the statements as they would be submitted (the password is masked)."""
    from flink_jobs import runner

    settings = get_settings()
    values = runner.placeholders(settings, topic or settings.events_topic, database, settings.flink_job_name,
                                 masked=True)  # fmt: skip
    for statement in runner.render_statements(values):
        print(statement + ";\n")


def _utc(value: str | None):  # noqa: ANN202 - datetime | None
    from datetime import datetime, timezone

    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@app.command("reconcile")
def reconcile_command(
    topic: Annotated[str | None, typer.Option(help="Events topic (default from settings).")] = None,
    database: Annotated[str | None, typer.Option(help="Database of the real-time tables.")] = None,
    schema: Annotated[str, typer.Option(help="Schema of the real-time tables (a replay's realtime_vN).")] = "realtime",
    start: Annotated[str | None, typer.Option(help="First window start, ISO 8601 (UTC if no zone).")] = None,
    end: Annotated[str | None, typer.Option(help="Windows starting before this (default: last closed).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary after the report.")] = False,
) -> None:
    """Recompute the real-time tables from Kafka (independent consumer) and diff with PostgreSQL; exit 1 on any
    difference."""
    from flink_jobs.reconcile import reconcile

    report = reconcile(get_settings(), topic, database, _utc(start), _utc(end), schema)
    typer.echo(report.render())
    if as_json:
        typer.echo(json.dumps(report.summary()))
    raise typer.Exit(0 if report.ok else 1)


replay_app = typer.Typer(help="Reprocess a range from Kafka with a changed rule, diff, promote.", no_args_is_help=True)
app.add_typer(replay_app, name="replay")


@replay_app.command("run")
def replay_run(
    start: Annotated[str, typer.Option(help="Range start (event time, ISO 8601, UTC if no zone).")],
    end: Annotated[str, typer.Option(help="Range end (exclusive).")],
    set_: Annotated[list[str], typer.Option("--set", help="A changed rule: setting=value (repeatable).")] = [],  # noqa: B006
    topic: Annotated[str | None, typer.Option(help="Events topic (default from settings).")] = None,
    database: Annotated[str | None, typer.Option(help="Database of the real-time tables.")] = None,
) -> None:
    """Replay the topic into a new realtime_v<N> with the changed rules and print the diff for the range."""
    from flink_jobs import replay

    settings = get_settings()
    done = replay.run_replay(settings, replay.parse_overrides(set_), topic, database)
    typer.echo(f"replay v{done.version} into schema {done.schema} (job {done.job_id}, {done.seconds:.0f} s)")
    diffs = replay.diff_versions(settings, done.version, _utc(start), _utc(end), database)
    typer.echo(replay.render_diff(done.version, _utc(start), _utc(end), diffs))


@replay_app.command("diff")
def replay_diff(
    version: Annotated[int, typer.Option(help="The replay's version N (schema realtime_vN).")],
    start: Annotated[str, typer.Option(help="Range start (ISO 8601).")],
    end: Annotated[str, typer.Option(help="Range end (exclusive).")],
    database: Annotated[str | None, typer.Option(help="Database of the real-time tables.")] = None,
) -> None:
    """Print what promoting the replay would change in the range."""
    from flink_jobs import replay

    diffs = replay.diff_versions(get_settings(), version, _utc(start), _utc(end), database)
    typer.echo(replay.render_diff(version, _utc(start), _utc(end), diffs))


@replay_app.command("promote")
def replay_promote(
    version: Annotated[int, typer.Option(help="The replay's version N (schema realtime_vN).")],
    start: Annotated[str, typer.Option(help="Range start (ISO 8601).")],
    end: Annotated[str, typer.Option(help="Range end (exclusive).")],
    database: Annotated[str | None, typer.Option(help="Database of the real-time tables.")] = None,
) -> None:
    """Replace the range in realtime.* by the replay's rows, in one transaction (old rows kept for rollback)."""
    from flink_jobs import replay

    counts = replay.promote(get_settings(), version, _utc(start), _utc(end), database)
    for table, c in counts.items():
        typer.echo(f"  {table:<28} replaced {c['replaced']:>8}, promoted {c['promoted']:>8}")
    typer.echo(f"promoted v{version}; previous rows in {replay.schema_of(version)}_replaced")
