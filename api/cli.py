"""`streampulse keys ...`: create, list and revoke REST API keys (mounted by the top-level CLI)."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from api.keys import create_key, revoke_key
from streampulse.settings import get_settings

app = typer.Typer(help="Create, list and revoke REST API keys.", no_args_is_help=True, add_completion=False)


def _conn() -> psycopg.Connection:
    return psycopg.connect(get_settings().dsn(), autocommit=True)


@app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    scope: Annotated[list[str], typer.Option(help="Scope(s): read, acknowledge.")] = ["read"],  # noqa: B006
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    try:
        with _conn() as conn:
            key = create_key(conn, name, scope)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(key)


@app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The id part of the key (sp_<id>_...).")]) -> None:
    """Revoke a key: it stops working at once."""
    with _conn() as conn:
        if not revoke_key(conn, key_id):
            typer.echo(f"error: no active key with id {key_id}", err=True)
            raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@app.command("list")
def keys_list() -> None:
    """List keys (ids, names, scopes, state); secrets are never shown."""
    with _conn() as conn:
        for key_id, name, scopes, created, revoked in conn.execute(
            "select key_id, name, scopes, created_at, revoked_at from api.api_keys order by created_at"
        ):
            state = f"revoked {revoked:%Y-%m-%d %H:%M}Z" if revoked else "active"
            typer.echo(f"{key_id}  {name:<24} {','.join(scopes):<18} created {created:%Y-%m-%d %H:%M}Z  {state}")
