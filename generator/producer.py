"""Produce events to Kafka in the schema registry's wire format, accounting for every event.

Wire format (what Flink's `avro-confluent` format reads): magic byte 0x00, the 4-byte big-endian
schema id from the registry, then the Avro binary datum.

Producer settings: idempotent, `acks=all`, lz4-compressed. Messages are keyed by the CDN edge
node: each node's events stay in one partition, in order, so the per-node health the anomaly
detector reads is not reordered by Kafka; `murmur2_random` is the Java client's partitioner, so
any client agrees on a key's partition. Delivery reports come back for failures only
(`delivery.report.only.error`); after a flush nothing is in flight, so delivered = produced -
failed, exactly, without a Python callback per event.
"""

from __future__ import annotations

import io
import logging
import struct
import time
from dataclasses import dataclass, field

import fastavro
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from generator.schema import LATEST_VERSION, event_schema_text, parsed_event_schema
from streampulse.settings import Settings

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The Kafka cluster could not be reached, or did not confirm every event."""


class SchemaRejected(RuntimeError):
    """The schema registry refused the schema (incompatible with the subject's history)."""


@dataclass
class DeliveryReport:
    """What happened to what we produced: nothing is dropped silently."""

    produced: int = 0
    failed: int = 0
    in_flight: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return self.produced - self.failed - self.in_flight

    def on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            self.failed += 1
            self.errors[err.name()] = self.errors.get(err.name(), 0) + 1


def register_schema(settings: Settings, subject: str, version: int = LATEST_VERSION, text: str | None = None) -> int:
    """Register event schema `version` (or the schema `text`) under `subject`, idempotently; return its id."""
    client = SchemaRegistryClient({"url": settings.registry_url})
    try:
        return client.register_schema(subject, Schema(text or event_schema_text(version), "AVRO"))
    except SchemaRegistryError as exc:
        if exc.http_status_code == 409:
            which = "the given schema" if text else f"schema v{version}"
            raise SchemaRejected(
                f"The schema registry refused {which} for subject {subject!r}: it is not compatible "
                f"with the versions registered before ({exc.error_message}). Evolve schemas by adding optional "
                "fields with defaults; never remove or retype a field."
            ) from None
        raise


def check_broker(settings: Settings, topic: str, timeout_s: float = 10) -> None:
    """Fail fast, with a clear message, when the broker is down or the topic does not exist."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers, "socket.connection.setup.timeout.ms": 5000})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailable(
            f"Kafka at {settings.bootstrap_servers} is not reachable ({exc.args[0].str()}). "
            "Is the stack running? `make up` starts it; `streampulse stack status` tells."
        ) from None
    if topic not in metadata.topics:
        raise BrokerUnavailable(
            f"Topic {topic!r} does not exist on {settings.bootstrap_servers}; `streampulse stack up` creates the "
            "platform's topics (topics are not auto-created)."
        )


class EventProducer:
    """Idempotent, acks=all, compressed producer for content events (batches or single events)."""

    def __init__(
        self, settings: Settings, topic: str | None = None, schema_version: int = LATEST_VERSION, **overrides: object
    ) -> None:
        self.settings = settings
        self.topic = topic or settings.events_topic
        self.schema_version = schema_version
        check_broker(settings, self.topic)
        self.schema_id = register_schema(settings, f"{self.topic}-value", schema_version)
        self._schema = parsed_event_schema(schema_version)
        self._header = struct.pack(">bI", 0, self.schema_id)
        self.report = DeliveryReport()
        self._fatal: KafkaError | None = None
        config = {
            "bootstrap.servers": settings.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "partitioner": "murmur2_random",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 2_097_151,
            "delivery.report.only.error": True,
            # A dead broker surfaces as failed deliveries within this bound instead of a hang.
            "message.timeout.ms": 30_000,
            "error_cb": self._on_error,
        }
        config.update(overrides)
        config["on_delivery"] = self.report.on_delivery
        self._producer = Producer(config)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
        log.warning("kafka: %s", err.str())

    def _check(self) -> None:
        if self._fatal is not None:
            raise BrokerUnavailable(f"Kafka producer failed: {self._fatal.str()}")

    def encode(self, event: dict) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        fastavro.schemaless_writer(buf, self._schema, event)
        return buf.getvalue()

    def send(self, event: dict, key: bytes | None = None, partition: int | None = None) -> None:
        """One event given as a dict (validated by fastavro); for hand-made events and tests."""
        self._check()
        value = self.encode(event)
        kwargs = {"partition": partition} if partition is not None else {}
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key or event["cdn_node"].encode(), **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain
        self.report.produced += 1
        self._producer.poll(0)

    def send_encoded(self, messages: list[dict]) -> None:
        """Pre-encoded records ({"value", "key"} dicts from generator.encoding); one C call per batch."""
        self._check()
        while messages:
            queued = self._producer.produce_batch(self.topic, messages)
            self.report.produced += queued
            if queued == len(messages):
                break
            # Messages the local queue could not take carry an '_error'; wait for room, send them again.
            messages = [m for m in messages if "_error" in m]
            for m in messages:
                del m["_error"]
            self._producer.poll(0.05)
            self._check()
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60) -> DeliveryReport:
        """Wait for every delivery; raise BrokerUnavailable if any event was not confirmed."""
        deadline = time.monotonic() + timeout_s
        remaining = len(self._producer)
        while remaining and time.monotonic() < deadline:
            remaining = self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
        self.report.in_flight = remaining
        if remaining or self.report.failed:
            raise BrokerUnavailable(
                f"Kafka at {self.settings.bootstrap_servers} did not confirm {remaining + self.report.failed} of "
                f"{self.report.produced} events (failed: {self.report.failed} {self.report.errors or ''}, "
                f"unconfirmed after {timeout_s:.0f} s: {remaining})"
            )
        return self.report


def produce_events(
    settings: Settings,
    events: list[dict],
    topic: str | None = None,
    partition: int | None = None,
    schema_version: int = LATEST_VERSION,
) -> DeliveryReport:
    """Library call: produce all `events` (dicts), wait for every delivery report, raise if any failed."""
    producer = EventProducer(settings, topic, schema_version)
    for event in events:
        producer.send(event, partition=partition)
    return producer.flush()
