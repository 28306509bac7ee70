"""`streampulse`: the platform's command line (stack control, API keys)."""

from __future__ import annotations

import logging
from typing import Annotated

import psycopg
import typer

from streampulse.settings import get_settings
from streampulse.stack.cli import app as stack_app

app = typer.Typer(help="StreamPulse command line.", no_args_is_help=True, add_completion=False)
app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local stack.")
keys_app = typer.Typer(help="Create, list and revoke REST API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _conn() -> psycopg.Connection:
    return psycopg.connect(get_settings().dsn(), autocommit=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scope: Annotated[list[str], typer.Option(help="Scope(s): read, acknowledge.")] = ["read"],  # noqa: B006
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from api.keys import create_key

    try:
        with _conn() as conn:
            key = create_key(conn, name, scope)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The id part of the key (sp_<id>_...).")]) -> None:
    """Revoke a key: it stops working at once."""
    from api.keys import revoke_key

    with _conn() as conn:
        if not revoke_key(conn, key_id):
            typer.echo(f"error: no active key with id {key_id}", err=True)
            raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, names, scopes, state); secrets are never shown."""
    with _conn() as conn:
        for key_id, name, scopes, created, revoked in conn.execute(
            "select key_id, name, scopes, created_at, revoked_at from api.api_keys order by created_at"
        ):
            state = f"revoked {revoked:%Y-%m-%d %H:%M}Z" if revoked else "active"
            typer.echo(f"{key_id}  {name:<24} {','.join(scopes):<18} created {created:%Y-%m-%d %H:%M}Z  {state}")


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
    import json

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


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app(prog_name="streampulse")


if __name__ == "__main__":
    main()
