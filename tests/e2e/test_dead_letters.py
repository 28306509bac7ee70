"""Bad records: a record the job cannot decode does not stop it; it is kept, with its raw bytes and the
reason, in realtime.dead_letters, and the good records around it are counted exactly as before."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from confluent_kafka import Producer

from flink_jobs.rest import FlinkRest
from generator.events import make_event
from generator.producer import EventProducer
from tests.e2e.conftest import query
from tests.e2e.helpers import T0, flink_job, minute_counts, ms, send_clock, wait_for_minute_counts

pytestmark = pytest.mark.stack


def test_undecodable_records_go_to_the_dead_letter_table(isolated):
    rng = random.Random(11)
    good = [make_event(rng, ms(T0) + i * 700, f"app-{rng.randrange(5):06d}") for i in range(200)]
    with flink_job(isolated) as job_id:
        events = EventProducer(isolated.settings, isolated.topic)
        valid = events.encode(good[0])
        bad = {
            b"\x7bnot avro at all": "magic byte 0x7b",
            b"\x00\x00\x0f\x42\x3f" + valid[5:]: "unknown schema id 999999",
            valid[:20]: "corrupt Avro payload",
            valid + b"\x02\x04": "bytes left after the record",
            b"\x00\x00": "shorter than the 5-byte header",
        }
        raw = Producer({"bootstrap.servers": isolated.settings.bootstrap_servers})
        delivered: dict[bytes, tuple[int, int]] = {}

        def remember(err, msg) -> None:  # noqa: ANN001
            assert err is None
            delivered[msg.value()] = (msg.partition(), msg.offset())

        for i, event in enumerate(good):
            events.send(event, partition=i % 3)
            if i % 40 == 20:  # corrupt records between good ones, on every partition
                events.flush()
                payload = list(bad)[i // 40]
                raw.produce(isolated.topic, payload, partition=i % 3, on_delivery=remember)
                raw.flush()
        send_clock(events, T0 + timedelta(minutes=5))
        events.flush()

        expected = minute_counts(good)
        assert wait_for_minute_counts(isolated.dsn(), len(expected)) == expected
        sql = "select kafka_topic, kafka_partition, kafka_offset, error, payload from realtime.dead_letters"
        rows = query(isolated.dsn(), sql)
        assert len(rows) == len(bad)
        for topic, partition, offset, error, payload in rows:
            assert topic == isolated.topic
            assert delivered[bytes(payload)] == (partition, offset)
            assert bad[bytes(payload)] in error, error
        flink = FlinkRest.from_settings(isolated.settings)
        assert flink.job_state(job_id) == "RUNNING"
        exceptions = flink.exceptions(job_id)
        assert not exceptions.get("exceptionHistory", {}).get("entries"), "the job restarted"
