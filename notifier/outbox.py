"""The outbox (`notifier.deliveries`): record what each alert should become per channel, then send what is due.

`record` runs in the transaction that precedes the Kafka offset commit; the unique (idempotency_key, channel)
makes a re-read insert nothing. `send_due` takes one due row at a time under `for update skip locked` (two
notifiers never send the same row at once), sends it and writes the outcome in the same transaction: a crash
mid-send leaves the row pending, and it is sent again with the same key (at least once).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from notifier.alerts import Alert
from notifier.channels import DeliveryError, Sender
from notifier.grouping import SENT, Decision, backoff, decide_open, decide_release, decide_resolved
from notifier.rules import NotificationConfig

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "postgres"


def ensure_schema(dsn: str) -> None:
    """Apply the notifier's own idempotent DDL (also applied by `stack up`): a notifier deployed on its own
    against an existing database creates the tables it owns."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in sorted(MIGRATIONS.glob("*.sql")):
            conn.execute(path.read_text())


COLUMNS = (
    "idempotency_key, anomaly_id, state, anomaly_kind, subject, region, severity, peak_value, started_at, at_time, "
    "route, channel, channel_type, status, reason, next_attempt_at, kafka_partition, kafka_offset"
)
INSERT = f"""
    insert into notifier.deliveries ({COLUMNS})
    values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    on conflict (idempotency_key, channel) do nothing
"""
# An acknowledgement silences this anomaly and those of the same kind and subject starting within the cool-down.
ACKED = """
    select exists (select 1 from api.anomaly_acks
                   where anomaly_kind = %s and subject = %s and started_at between %s and %s)
"""
LAST_SENT_OPEN = """
    select max(at_time) from notifier.deliveries
    where channel = %s and anomaly_kind = %s and subject = %s and state = 'OPEN' and status = any(%s)
      and anomaly_id <> %s
"""


def _acknowledged(conn: psycopg.Connection, kind: str, subject: str, started_at: datetime, cooldown: timedelta) -> bool:
    return bool(conn.execute(ACKED, (kind, subject, started_at - cooldown, started_at)).fetchone()[0])


def record(
    conn: psycopg.Connection, config: NotificationConfig, alert: Alert, partition: int, offset: int
) -> list[Decision]:
    """Write one delivery row per channel the alert is routed to (inside the caller's transaction)."""
    decisions = []
    stale = datetime.now(timezone.utc) - alert.at > timedelta(hours=config.defaults.max_age_hours)
    for route, channel in config.route(alert):
        cooldown = config.cooldown(route)
        if stale:  # e.g. a first start on a topic with history: recorded, not sent
            decision = Decision("suppressed", f"older than {config.defaults.max_age_hours:g} h when read")
        elif alert.state == "OPEN":
            last = conn.execute(LAST_SENT_OPEN, (channel, alert.anomaly_kind, alert.subject, list(SENT),
                                                 alert.anomaly_id)).fetchone()[0]  # fmt: skip
            acked = _acknowledged(conn, alert.anomaly_kind, alert.subject, alert.started_at, cooldown)
            decision = decide_open(alert.at, last, acked, cooldown)
        else:
            row = conn.execute(
                "select status from notifier.deliveries where idempotency_key = %s and channel = %s for update",
                (f"{alert.anomaly_id}:OPEN", channel),
            ).fetchone()
            decision = decide_resolved(row[0] if row else None)
            if row and row[0] == "held":  # resolved during its cool-down: the flap is over, nobody is paged
                conn.execute(
                    "update notifier.deliveries set status = 'suppressed', reason = 'resolved during the cool-down',"
                    " next_attempt_at = null where idempotency_key = %s and channel = %s",
                    (f"{alert.anomaly_id}:OPEN", channel),
                )
        now = datetime.now(timezone.utc)
        due = now + decision.hold_for if decision.hold_for is not None else now
        conn.execute(INSERT, (
            alert.idempotency_key, alert.anomaly_id, alert.state, alert.anomaly_kind, alert.subject, alert.region,
            alert.severity, alert.peak_value, alert.started_at, alert.at, route.name, channel,
            config.channels[channel].type, decision.status, decision.reason,
            due if decision.status in ("pending", "held") else None, partition, offset,
        ))  # fmt: skip
        decisions.append(decision)
    return decisions


def release_held(conn: psycopg.Connection, config: NotificationConfig) -> int:
    """Held OPENs whose cool-down ended: send if still unacknowledged, else suppress. Returns how many."""
    released = 0
    with conn.transaction():
        rows = conn.execute(
            "select id, anomaly_kind, subject, started_at, route from notifier.deliveries"
            " where status = 'held' and next_attempt_at <= now() for update skip locked"
        ).fetchall()
        routes = {r.name: r for r in config.routes}
        for id_, kind, subject, started_at, route_name in rows:
            cooldown = config.cooldown(routes[route_name]) if route_name in routes else timedelta(0)
            decision = decide_release(_acknowledged(conn, kind, subject, started_at, cooldown))
            conn.execute(
                "update notifier.deliveries set status = %s, reason = %s,"
                " next_attempt_at = case when %s = 'pending' then now() end where id = %s",
                (decision.status, decision.reason, decision.status, id_),
            )
            released += 1
    return released


# Due rows, oldest first; a RESOLVED waits while its OPEN on the same channel is still to be sent.
NEXT_DUE = """
    select d.id, d.channel, d.attempts, d.created_at, d.anomaly_kind, d.subject, d.state, d.started_at, d.at_time,
           d.region, d.peak_value, d.severity
    from notifier.deliveries d
    where d.status = 'pending' and d.next_attempt_at <= now()
      and (d.state = 'OPEN' or not exists (
            select 1 from notifier.deliveries o
            where o.channel = d.channel and o.anomaly_id = d.anomaly_id and o.state = 'OPEN'
              and o.status in ('pending', 'held')))
    order by d.next_attempt_at, d.id
    limit 1
    for update of d skip locked
"""

# OPENs of the same kind and subject this channel was not sent between its previous OPEN and this one.
GROUPED = """
    select count(*) from notifier.deliveries g
    where g.channel = %(channel)s and g.anomaly_kind = %(kind)s and g.subject = %(subject)s and g.state = 'OPEN'
      and g.status in ('held', 'suppressed') and g.at_time < %(at)s
      and g.at_time > coalesce((
            select max(s.at_time) from notifier.deliveries s
            where s.channel = %(channel)s and s.anomaly_kind = %(kind)s and s.subject = %(subject)s
              and s.state = 'OPEN' and s.status in ('pending', 'delivered', 'failed') and s.at_time < %(at)s),
          '-infinity')
"""


def send_due(conn: psycopg.Connection, config: NotificationConfig, sender: Sender, budget_s: float = 5) -> int:
    """Send due deliveries, one transaction each, for about `budget_s` (then the caller reads the topic again:
    a slow receiver must not stall the consumer); returns how many were attempted."""
    attempted, deadline = 0, time.monotonic() + budget_s
    while time.monotonic() < deadline:
        with conn.transaction():
            row = conn.execute(NEXT_DUE).fetchone()
            if row is None:
                return attempted
            id_, channel_name, attempts, created_at, *fields = row
            grouped = conn.execute(
                GROUPED, {"channel": channel_name, "kind": fields[0], "subject": fields[1], "at": fields[4]}
            ).fetchone()[0]
            alert = Alert(anomaly_kind=fields[0], subject=fields[1], state=fields[2], started_at=fields[3],
                          at=fields[4], region=fields[5], peak_value=fields[6], severity=fields[7],
                          grouped=grouped if fields[2] == "OPEN" else 0)  # fmt: skip
            attempted += 1
            channel = config.channels.get(channel_name)
            try:
                if channel is None:
                    raise DeliveryError(f"channel {channel_name!r} is no longer configured", permanent=True)
                try:
                    sender.send_alert(channel, alert)
                except DeliveryError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one bad row must not stop every delivery: retried
                    raise DeliveryError(f"unexpected {type(exc).__name__}") from None
            except DeliveryError as exc:
                _failed(conn, config, id_, attempts + 1, created_at, exc)
                log.warning("delivery %s of %s to %s failed (attempt %d): %s", id_, alert.idempotency_key,
                            channel_name, attempts + 1, exc)  # fmt: skip
                continue
            conn.execute(
                "update notifier.deliveries set status = 'delivered', attempts = %s, last_attempt_at = now(),"
                " delivered_at = now(), next_attempt_at = null, last_error = null where id = %s",
                (attempts + 1, id_),
            )
            log.info("delivered %s to %s", alert.idempotency_key, channel_name)
    return attempted


def _failed(
    conn: psycopg.Connection, config: NotificationConfig, id_: int, attempts: int, created_at: datetime,
    exc: DeliveryError,
) -> None:  # fmt: skip
    give_up = exc.permanent or datetime.now(timezone.utc) - created_at > timedelta(
        hours=config.defaults.give_up_after_hours
    )
    wait = backoff(attempts, config.defaults.retry_max_backoff_s)
    conn.execute(
        "update notifier.deliveries set attempts = %s, last_attempt_at = now(), last_error = %s,"
        " status = case when %s then 'failed' else status end,"
        " next_attempt_at = case when %s then null else now() + %s end where id = %s",
        (attempts, str(exc)[:500], give_up, give_up, wait, id_),
    )


def prune(conn: psycopg.Connection, keep_days: float) -> int:
    """Delete finished deliveries older than `keep_days` (the log's retention); returns how many."""
    with conn.transaction():
        cur = conn.execute(
            "delete from notifier.deliveries where status in ('delivered', 'suppressed', 'failed')"
            " and created_at < now() - make_interval(secs => %s)",
            (keep_days * 86_400,),
        )
    return cur.rowcount
