"""The local Kafka: one broker by default, or three (STREAMPULSE_KAFKA_BROKERS=3) forming one replicated
KRaft cluster, so that acks=all means what it says and a broker can crash without loss."""

from __future__ import annotations

import pytest

from streampulse.settings import Settings
from streampulse.stack import components


@pytest.fixture(autouse=True)
def _local_kafka(monkeypatch):
    monkeypatch.delenv("STREAMPULSE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("STREAMPULSE_KAFKA_BROKERS", raising=False)


def test_three_local_brokers_form_one_replicated_cluster(tmp_path, monkeypatch):
    settings = Settings(state_dir=tmp_path, kafka_brokers=3)
    assert settings.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (3, 2)
    monkeypatch.setattr(components, "_kafka_tool", lambda *a, **k: "cluster-id")  # no JVM in a unit test
    for node in (1, 2, 3):
        components.prepare_kafka(settings, None, node)
    props = [(tmp_path / "conf" / components.kafka_node_name(n) / "server.properties").read_text() for n in (1, 2, 3)]
    voters = "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"
    for p in props:
        assert voters in p and "min.insync.replicas=2" in p and "default.replication.factor=3" in p
        assert "transaction.state.log.min.isr=2" in p and "broker.session.timeout.ms=4000" in p
    assert "node.id=2" in props[1] and "listeners=PLAINTEXT://127.0.0.1:9192" in props[1]
    assert (tmp_path / "data" / "kafka-brokers").read_text() == "3"


def test_a_changed_broker_count_needs_fresh_storage(tmp_path, monkeypatch):
    monkeypatch.setattr(components, "_kafka_tool", lambda *a, **k: "cluster-id")
    components.prepare_kafka(Settings(state_dir=tmp_path), None, 1)
    with pytest.raises(components.StackError, match="formatted for 1 broker"):
        components.prepare_kafka(Settings(state_dir=tmp_path, kafka_brokers=3), None, 1)


def test_one_broker_stays_unreplicated(tmp_path):
    settings = Settings(state_dir=tmp_path)
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert (settings.kafka_replication_factor, settings.kafka_min_insync_replicas) == (1, 1)


def test_the_broker_count_comes_from_the_environment_and_is_one_or_three(monkeypatch):
    monkeypatch.setenv("STREAMPULSE_KAFKA_BROKERS", "3")
    assert Settings().kafka_brokers == 3
    monkeypatch.setenv("STREAMPULSE_KAFKA_BROKERS", "2")
    with pytest.raises(ValueError, match="1 or 3"):
        Settings()
