"""Events are encoded in the registry wire format and decode back with the schema from schemas/."""

import io
import random
import struct
from itertools import islice

import fastavro
import pytest

from generator.events import make_event, random_events
from generator.producer import DeliveryReport, EventProducer
from generator.schema import parsed_event_schema


def _encoder(schema_id: int) -> EventProducer:
    producer = EventProducer.__new__(EventProducer)  # no broker, no registry: encoding only
    producer.schema = parsed_event_schema()
    producer._header = struct.pack(">bI", 0, schema_id)
    return producer


def test_wire_format_roundtrip():
    event = make_event(random.Random(1), 1_767_225_600_000, "item-1", "PURCHASE", "DE")
    data = _encoder(4711).encode(event)
    assert data[0] == 0 and struct.unpack(">I", data[1:5])[0] == 4711
    decoded = fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed_event_schema(), None)
    assert decoded["event_type"] == "PURCHASE" and decoded["price_minor"] > 0 and decoded["currency"] == "USD"
    assert decoded["event_id"] == event["event_id"]


def test_invalid_event_is_refused_not_sent():
    event = make_event(random.Random(1), 0, "item-1")
    event["event_type"] = "NOT_A_TYPE"
    with pytest.raises(ValueError):
        _encoder(1).encode(event)


def test_same_seed_same_events():
    a = [e for e in islice(random_events(seed=5, start_ms=0, rate=10), 50)]
    b = [e for e in islice(random_events(seed=5, start_ms=0, rate=10), 50)]
    c = [e for e in islice(random_events(seed=6, start_ms=0, rate=10), 50)]
    assert a == b and a != c


def test_delivery_report_counts_failures():
    from confluent_kafka import KafkaError

    report = DeliveryReport()
    report.on_delivery(None, None)
    report.on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    assert (report.delivered, report.failed) == (1, 1)
    assert report.errors == {"_MSG_TIMED_OUT": 1}
