"""The columnar encoder writes exactly what fastavro writes, in the registry's wire format."""

import io
import json
import random
import struct

import fastavro
import numpy as np
import pytest

from generator.catalog import Catalog
from generator.encoding import LONG, BatchEncoder, _encode
from generator.events import make_event
from generator.model import EventModel
from generator.producer import DeliveryReport, EventProducer
from generator.schema import parsed_event_schema

T0 = 1_767_225_600_000


@pytest.fixture(scope="module")
def batch_and_catalog():
    catalog = Catalog.build(seed=3, size=800)
    batch = EventModel(catalog, seed=3).draw(T0 + np.arange(3000, dtype=np.int64) * 7)
    return batch, catalog


@pytest.mark.parametrize("version", [1, 2])
def test_batch_encoding_is_byte_identical_to_fastavro(batch_and_catalog, version):
    batch, catalog = batch_and_catalog
    messages = BatchEncoder(catalog, schema_id=77, schema_version=version).messages(batch)
    rows = batch.to_dicts(catalog, version)
    for message, row in zip(messages, rows, strict=True):
        value, key = message["value"], message["key"]
        assert value[0] == 0 and struct.unpack(">I", value[1:5])[0] == 77
        expected = io.BytesIO()
        fastavro.schemaless_writer(expected, parsed_event_schema(version), row)
        assert value[5:] == expected.getvalue()
        assert key == row["cdn_node"].encode()


def test_varints_at_the_edges():
    values = np.array([0, -1, 1, 63, 64, -64, -65, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1])
    out, offsets = np.empty(len(values) * 10, dtype=np.uint8), np.empty(len(values) + 1, dtype=np.int64)
    no_bytes, no_index = np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64)
    program = np.array([[LONG, 0, 0]], dtype=np.int64)
    codes = np.empty((len(values), 0), dtype=np.int64)
    _encode(no_bytes, values.reshape(-1, 1), codes, program, no_bytes, no_index, no_index, out, offsets)
    for i, v in enumerate(values.tolist()):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, {"type": "long"}, v)
        assert out[offsets[i] : offsets[i + 1]].tobytes() == buf.getvalue()


def test_avro_is_at_least_75_percent_smaller_than_json(batch_and_catalog):
    batch, catalog = batch_and_catalog
    messages = BatchEncoder(catalog, schema_id=1, schema_version=1).messages(batch)
    avro = sum(len(m["value"]) for m in messages)  # including the 5-byte registry header
    compact_json = sum(len(json.dumps(r, separators=(",", ":"))) for r in batch.to_dicts(catalog, 1))
    assert 1 - avro / compact_json >= 0.75, (avro, compact_json)


def test_dict_events_roundtrip_and_invalid_ones_are_refused():
    producer = EventProducer.__new__(EventProducer)  # encoding only: no broker, no registry
    producer._schema = parsed_event_schema(2)
    producer._header = struct.pack(">bI", 0, 9)
    event = make_event(random.Random(1), T0, "mov-000001", "PURCHASE", "DE")
    decoded = fastavro.schemaless_reader(io.BytesIO(producer.encode(event)[5:]), parsed_event_schema(2), None)
    decoded["event_time"] = int(decoded["event_time"].timestamp() * 1000)
    assert decoded == event and decoded["currency"] == "EUR"
    event["event_type"] = "NOT_A_TYPE"
    with pytest.raises(ValueError):
        producer.encode(event)


def test_delivery_report_accounts_for_every_event():
    from confluent_kafka import KafkaError

    report = DeliveryReport(produced=10)
    report.on_delivery(None, None)  # success reports (not requested in production) change nothing
    report.on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    report.in_flight = 2
    assert (report.delivered, report.failed, report.errors) == (7, 1, {"_MSG_TIMED_OUT": 1})
