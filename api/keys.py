"""API keys: `sp_<key id>_<secret>`. The id finds the row; only a hash of the secret is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import psycopg

PREFIX = "sp"
SCOPES = ("read", "acknowledge")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: tuple[str, ...]


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough (a slow KDF guards low-entropy passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(conn: psycopg.Connection, name: str, scopes: list[str]) -> str:
    """Create a key and return it in full: this is the only time it can be seen."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s) {sorted(unknown)}; valid scopes: {', '.join(SCOPES)}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        "insert into api.api_keys (key_id, name, secret_hash, scopes) values (%s, %s, %s, %s)",
        (key_id, name, _hash(secret), scopes),
    )
    return f"{PREFIX}_{key_id}_{secret}"


def revoke_key(conn: psycopg.Connection, key_id: str) -> bool:
    cur = conn.execute("update api.api_keys set revoked_at = now() where key_id = %s and revoked_at is null", (key_id,))
    return cur.rowcount == 1


_LOOKUP = "select name, secret_hash, scopes from api.api_keys where key_id = %s and revoked_at is null"


def _split(presented: str) -> tuple[str, str] | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or len(presented) > 200:
        return None
    return parts[1], parts[2]


def _check(key_id: str, secret: str, row: tuple | None) -> ApiKey | None:
    if row is None or not hmac.compare_digest(row[1], _hash(secret)):
        return None
    return ApiKey(key_id=key_id, name=row[0], scopes=tuple(row[2]))


def verify_key(conn: psycopg.Connection, presented: str) -> ApiKey | None:
    """The key's identity when `presented` is a valid, unrevoked key; otherwise None."""
    parts = _split(presented)
    if parts is None:
        return None
    return _check(*parts, conn.execute(_LOOKUP, (parts[0],)).fetchone())


async def verify_key_async(conn: psycopg.AsyncConnection, presented: str) -> ApiKey | None:
    """`verify_key` for the API's async connections."""
    parts = _split(presented)
    if parts is None:
        return None
    cur = await conn.execute(_LOOKUP, (parts[0],))
    return _check(*parts, await cur.fetchone())


def list_keys(conn: psycopg.Connection) -> list[tuple]:
    """(key_id, name, scopes, created_at, revoked_at) of every key, oldest first; never a secret."""
    return conn.execute(
        "select key_id, name, scopes, created_at, revoked_at from api.api_keys order by created_at"
    ).fetchall()
