"""Produce events to Kafka in the schema registry's wire format, counting every delivery report.

Wire format (what Flink's `avro-confluent` format reads): magic byte 0x00, the 4-byte big-endian
schema id from the registry, then the Avro binary datum.
"""

from __future__ import annotations

import io
import logging
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import fastavro
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from generator.schema import event_schema_text, parsed_event_schema
from streampulse.settings import Settings

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The Kafka cluster could not be reached: nothing was (or will be) delivered."""


@dataclass
class DeliveryReport:
    """What happened to what we produced: nothing is dropped silently."""

    produced: int = 0
    delivered: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            self.errors[err.name()] = self.errors.get(err.name(), 0) + 1


def register_schema(settings: Settings, subject: str) -> int:
    """Register the event schema under `subject` (idempotent) and return its id."""
    client = SchemaRegistryClient({"url": settings.registry_url})
    return client.register_schema(subject, Schema(event_schema_text(), "AVRO"))


class EventProducer:
    """An idempotent, acks=all, compressed producer for content events."""

    def __init__(self, settings: Settings, topic: str | None = None, **overrides: object) -> None:
        self.settings = settings
        self.topic = topic or settings.events_topic
        self.schema = parsed_event_schema()
        self.schema_id = register_schema(settings, f"{self.topic}-value")
        self._header = struct.pack(">bI", 0, self.schema_id)
        self.report = DeliveryReport()
        self._fatal: KafkaError | None = None
        config = {
            "bootstrap.servers": settings.bootstrap_servers,
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "lz4",
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            # A dead broker surfaces as an error within this bound instead of a hang.
            "message.timeout.ms": 30_000,
            "error_cb": self._on_error,
        }
        config.update(overrides)
        self._producer = Producer(config)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal() or err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._fatal = err
        log.warning("kafka: %s", err)

    def encode(self, event: dict) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        fastavro.schemaless_writer(buf, self.schema, event)
        return buf.getvalue()

    def send(self, event: dict, key: str | None = None, partition: int | None = None) -> None:
        if self._fatal is not None:
            raise BrokerUnavailable(f"Kafka at {self.settings.bootstrap_servers} is unavailable: {self._fatal.str()}")
        value = self.encode(event)
        kwargs = {"partition": partition} if partition is not None else {}
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    value=value,
                    key=(key or event["content_id"]).encode(),
                    on_delivery=self.report.on_delivery,
                    **kwargs,
                )
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain
        self.report.produced += 1
        self._producer.poll(0)

    def flush(self, timeout_s: float = 60) -> DeliveryReport:
        deadline = time.monotonic() + timeout_s
        while self.report.delivered + self.report.failed < self.report.produced and time.monotonic() < deadline:
            self._producer.flush(0.5)
            if self._fatal is not None and self.report.delivered == 0:
                break
        pending = self.report.produced - self.report.delivered - self.report.failed
        if pending or self._fatal is not None and self.report.failed:
            raise BrokerUnavailable(
                f"Kafka at {self.settings.bootstrap_servers} did not confirm {pending + self.report.failed} of "
                f"{self.report.produced} events (errors: {self.report.errors or self._fatal})"
            )
        return self.report


def produce_events(
    settings: Settings, events: Iterable[dict], topic: str | None = None, partition: int | None = None
) -> DeliveryReport:
    """Library call: produce all `events`, wait for every delivery report, raise if any failed."""
    producer = EventProducer(settings, topic)
    try:
        for event in events:
            producer.send(event, partition=partition)
    except KafkaException as exc:
        raise BrokerUnavailable(str(exc)) from exc
    report = producer.flush()
    if report.failed:
        raise BrokerUnavailable(f"{report.failed} events were not delivered: {report.errors}")
    return report
