"""The notifier process: consume the alerts topic (read_committed), record deliveries, send what is due.

Offsets are committed only after the deliveries of the records read are in PostgreSQL: a crash re-reads
what was not committed and the unique idempotency key keeps it from being recorded twice. Sending runs
from the table, so a receiver that is down delays its own deliveries, never the consumption.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import psycopg
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from notifier.alerts import parse_alert
from notifier.channels import Sender
from notifier.outbox import ensure_schema, prune, record, release_held, send_due
from notifier.rules import NotificationConfig
from streampulse.settings import Settings

log = logging.getLogger(__name__)
GROUP_ID = "streampulse-notifier"
STALL_S = 60  # the loop must have turned within this for /health to answer 200
PRUNE_EVERY_S = 3600  # the delivery log's retention is applied hourly


class Status:
    """What /health reports; written by the loop, read by the health thread."""

    def __init__(self) -> None:
        self.last_loop = 0.0
        self.assigned: list[int] = []
        self.error: str | None = None

    def healthy(self) -> bool:
        return self.error is None and time.monotonic() - self.last_loop < STALL_S


def serve_health(host: str, port: int, status: Status) -> ThreadingHTTPServer:
    """GET /health: 200 while the loop turns, else 503 (the stack's health check and a liveness probe)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            if self.path != "/health":
                self.send_error(404)
                return
            ok = status.healthy()
            body = json.dumps({"status": "ok" if ok else "unhealthy", "partitions": status.assigned,
                               "error": status.error}).encode()  # fmt: skip
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # probes every second: not worth a log line each
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="notifier-health", daemon=True).start()
    return server


def run(
    settings: Settings, config: NotificationConfig, stop: threading.Event, group_id: str = GROUP_ID,
    status: Status | None = None, poll_s: float = 0.5,
) -> None:  # fmt: skip
    """Consume, record and send until `stop` is set."""
    from confluent_kafka import Consumer, TopicPartition

    status = status or Status()
    status.error = None
    ensure_schema(settings.dsn())

    def on_assign(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
        status.assigned = sorted(p.partition for p in partitions)

    consumer = Consumer({
        "bootstrap.servers": settings.bootstrap_servers, "group.id": group_id,
        "isolation.level": "read_committed",  # the job writes the topic transactionally
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })  # fmt: skip
    consumer.subscribe([settings.alerts_topic], on_assign=on_assign)
    log.info("notifier: %d channel(s), %d route(s); reading %s as group %s", len(config.channels),
             len(config.routes), settings.alerts_topic, group_id)  # fmt: skip
    try:
        with psycopg.connect(settings.dsn(), options="-c timezone=UTC") as conn, httpx.Client() as http:
            sender = Sender(settings, http)
            pruned = 0.0 - PRUNE_EVERY_S
            while not stop.is_set():
                status.last_loop = time.monotonic()
                messages = consumer.consume(num_messages=200, timeout=poll_s)
                offsets: dict[tuple[str, int], int] = {}
                with conn.transaction():
                    for msg in messages:
                        if msg.error():
                            log.warning("alerts consumer: %s", msg.error())
                            continue
                        offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
                        try:
                            alert = parse_alert(msg.value())
                        except ValueError as exc:
                            log.warning("skipping record %s-%s: %s", msg.partition(), msg.offset(), exc)
                            continue
                        record(conn, config, alert, msg.partition(), msg.offset())
                if offsets:  # only now: the deliveries of these records are in PostgreSQL
                    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                                    asynchronous=False)  # fmt: skip
                release_held(conn, config)
                send_due(conn, config, sender)
                if time.monotonic() - pruned > PRUNE_EVERY_S:
                    log.info("pruned %d finished deliveries", prune(conn, config.defaults.keep_days))
                    pruned = time.monotonic()
    finally:
        consumer.close()


def run_forever(
    settings: Settings, config: NotificationConfig, stop: threading.Event, group_id: str = GROUP_ID,
    status: Status | None = None, max_wait_s: float = 30,
) -> None:  # fmt: skip
    """`run`, started again with backoff after PostgreSQL or Kafka failed (a restart, a network cut): the
    process outlives an outage, /health says 503 meanwhile, and nothing is lost (the outbox and the
    uncommitted offsets carry the work over). Any other error ends the process."""
    from confluent_kafka import KafkaException

    status = status or Status()

    def note(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("notifier: %s; starting again in %.0f s", type(error).__name__, state.upcoming_sleep)

    for attempt in Retrying(
        retry=retry_if_exception_type((psycopg.OperationalError, KafkaException)),
        wait=wait_exponential(multiplier=1, max=max_wait_s),
        stop=lambda _state: stop.is_set(),
        before_sleep=note,
        sleep=stop.wait,  # a stop request ends the wait at once
        reraise=True,
    ):
        with attempt:
            try:
                run(settings, config, stop, group_id=group_id, status=status)
            except Exception as exc:
                status.error = type(exc).__name__  # /health answers 503 until a run gets going again
                raise
