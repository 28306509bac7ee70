"""Acknowledgements of CDN anomalies: the one statement that records them, as the API's writer role.

Both writers use it: the REST API (`POST /v1/anomalies/{id}/acknowledge`, on a pooled connection that is
already the writer role) and the dashboard's Acknowledge button (`acknowledge`, on its own connection).
The writer role may only insert into `api.anomaly_acks` and read the anomalies (api/postgres/002_*.sql),
so an acknowledgement can never touch `realtime.*`, whichever process records it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from api.db import WRITER_ROLE

# Only anomalies that exist: the insert selects from the alerts, so an unknown key inserts nothing.
# Idempotent: acknowledging again keeps the first acknowledgement (time, who, note).
ACKNOWLEDGE_SQL = """
    insert into api.anomaly_acks (anomaly_kind, subject, started_at, acknowledged_by, note)
    select anomaly_kind, subject, started_at, %(by)s, %(note)s from realtime.cdn_alerts
    where anomaly_kind = %(kind)s and subject = %(subject)s and started_at = %(started_at)s
    on conflict do nothing
"""


def ack_params(kind: str, subject: str, started_at: datetime, by: str, note: str | None = None) -> dict[str, Any]:
    """The parameters of ACKNOWLEDGE_SQL."""
    return {"kind": kind, "subject": subject, "started_at": started_at, "by": by, "note": note}


def acknowledge(
    conn: psycopg.Connection, kind: str, subject: str, started_at: datetime, by: str, note: str | None = None
) -> bool:
    """Record an acknowledgement as the writer role; True when this call recorded it (False: already there,
    or no such anomaly). The role is switched with SET LOCAL for this one transaction, so a pooled
    connection that logged in as the platform user goes back to its pool unchanged."""
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(WRITER_ROLE)))
        cur = conn.execute(ACKNOWLEDGE_SQL, ack_params(kind, subject, started_at, by, note))
        return cur.rowcount == 1
