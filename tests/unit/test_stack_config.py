"""The local stack's rendered configuration: Flink high availability through Flink's bundled ZooKeeper."""

from pathlib import Path

import httpx
import pytest
import yaml

from flink_jobs import deploy
from flink_jobs.rest import FlinkRest
from streampulse.flink_classpath import flink_home, lib_folder, link_classpath
from streampulse.settings import Settings
from streampulse.stack.components import (
    build_components,
    flink_ha_dir,
    prepare_flink,
    prepare_zookeeper,
    zookeeper_data_dir,
)
from streampulse.stack.preflight import Java

JAVA = Java(executable=Path("/usr/bin/java"), home=Path("/usr"), major=17)


@pytest.fixture(autouse=True)
def _external_kafka_and_registry(monkeypatch):
    # Their commands need the downloaded jars; these tests are about Flink and ZooKeeper.
    monkeypatch.setenv("STREAMPULSE_KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    monkeypatch.setenv("STREAMPULSE_SCHEMA_REGISTRY_URL", "http://registry.example:8085")


def _flink_config(settings: Settings) -> dict:
    prepare_flink(settings)
    return yaml.safe_load((settings.state_dir / "conf" / "flink" / "config.yaml").read_text())


def test_flink_runs_with_zookeeper_high_availability_by_default(tmp_path):
    settings = Settings(state_dir=tmp_path, zookeeper_port=2999)
    config = _flink_config(settings)
    assert config["high-availability.type"] == "zookeeper"
    assert config["high-availability.zookeeper.quorum"] == "127.0.0.1:2999"
    assert config["high-availability.storageDir"] == flink_ha_dir(settings).as_uri()
    assert config["high-availability.zookeeper.client.session-timeout"] == settings.flink_ha_session_timeout_ms
    assert config["heartbeat"] == {"interval": 2000, "timeout": 20000}
    names = [c.name for c in build_components(settings, JAVA)]
    assert names.index("zookeeper") < names.index("flink-jobmanager")


def test_without_high_availability_there_is_no_zookeeper(tmp_path):
    settings = Settings(state_dir=tmp_path, flink_high_availability=False)
    config = _flink_config(settings)
    assert not [key for key in config if key.startswith("high-availability")]
    assert "zookeeper" not in [c.name for c in build_components(settings, JAVA)]


def test_an_external_flink_cluster_brings_its_own_high_availability(tmp_path, monkeypatch):
    monkeypatch.setenv("STREAMPULSE_FLINK_REST_URL", "http://flink.example:8081")
    names = [c.name for c in build_components(Settings(state_dir=tmp_path), JAVA)]
    assert "zookeeper" not in names and "flink-jobmanager" not in names


def test_zookeeper_listens_on_the_stack_address_only_and_starts_clean(tmp_path):
    settings = Settings(state_dir=tmp_path, zookeeper_port=2999)
    stale = [zookeeper_data_dir(settings) / "version-2" / "log.1", flink_ha_dir(settings) / "job-graph"]
    for path in stale:
        path.parent.mkdir(parents=True)
        path.write_text("from the previous run")
    prepare_zookeeper(settings)  # supervisord is not running: a fresh stack start
    assert not any(path.exists() for path in stale)
    cfg = dict(
        line.split("=", 1)
        for line in (settings.state_dir / "conf" / "flink" / "zoo.cfg").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert cfg["clientPortAddress"] == "127.0.0.1" and cfg["clientPort"] == "2999"
    assert cfg["admin.enableServer"] == "false"
    assert cfg["dataDir"] == str(zookeeper_data_dir(settings))


def test_three_zookeeper_servers_form_one_ensemble(tmp_path):
    settings = Settings(state_dir=tmp_path, zookeeper_port=2999, zookeeper_nodes=3)
    names = [c.name for c in build_components(settings, JAVA)]
    assert [n for n in names if n.startswith("zookeeper")] == ["zookeeper", "zookeeper-2", "zookeeper-3"]
    assert (
        _flink_config(settings)["high-availability.zookeeper.quorum"] == "127.0.0.1:2999,127.0.0.1:3000,127.0.0.1:3001"
    )
    for node in (1, 2, 3):
        prepare_zookeeper(settings, node)
    cfgs = [
        dict(line.split("=", 1) for line in (conf / "zoo.cfg").read_text().splitlines() if line and line[0] != "#")
        for conf in (
            tmp_path / "conf" / "flink",
            tmp_path / "conf" / "flink-zookeeper-2",
            tmp_path / "conf" / "flink-zookeeper-3",
        )
    ]
    assert [c["clientPort"] for c in cfgs] == ["2999", "3000", "3001"]
    assert len({c["dataDir"] for c in cfgs}) == 3  # each server its own myid and snapshots
    for cfg in cfgs:
        assert cfg["server.1"] == "127.0.0.1:3009:3019" and cfg["server.3"] == "127.0.0.1:3011:3021"
    assert (tmp_path / "conf" / "flink-zookeeper-2" / "config.yaml").exists()


def test_two_zookeeper_servers_are_refused():
    with pytest.raises(ValueError, match="1 or 3"):
        Settings(zookeeper_nodes=2)


def test_a_second_taskmanager_holds_standby_slots_under_its_own_resource_id(tmp_path):
    settings = Settings(state_dir=tmp_path, flink_taskmanagers=2)
    tms = {c.name: c for c in build_components(settings, JAVA) if c.name.startswith("flink-taskmanager")}
    assert list(tms) == ["flink-taskmanager", "flink-taskmanager-2"]
    for name, component in tms.items():
        assert component.command[-2:] == ["-D", f"taskmanager.resource-id={name}"]
        assert component.log_file.name == f"{name}.log"


def _jars(settings: Settings, *names: str) -> None:
    (settings.lib_dir / "flink").mkdir(parents=True, exist_ok=True)
    for name in names:
        (settings.lib_dir / "flink" / name).write_bytes(b"PK")


def test_the_local_cluster_holds_the_connectors_and_a_job_ships_only_its_own_jar(tmp_path):
    settings = Settings(state_dir=tmp_path)
    _jars(settings, "flink-sql-connector-kafka-4.0.1-2.0.jar", "postgresql-42.7.8.jar", "streampulse-functions.jar")
    assert [p.name for p in settings.flink_job_jars(connectors_on_cluster=True)] == ["streampulse-functions.jar"]
    prepare_flink(settings)
    lib = lib_folder(settings)
    linked = {p.name: p.resolve() for p in lib.iterdir()}
    assert linked["postgresql-42.7.8.jar"] == (settings.lib_dir / "flink" / "postgresql-42.7.8.jar").resolve()
    assert "streampulse-functions.jar" not in linked  # rebuilt with the code: it travels with each job
    assert {p.name for p in (flink_home() / "lib").glob("flink-dist*.jar")} <= set(linked)
    manager = next(c for c in build_components(settings, JAVA) if c.name == "flink-taskmanager")
    assert manager.env["FLINK_LIB_DIR"] == str(lib)
    # A connector upgrade replaces its link; a removed one goes.
    (settings.lib_dir / "flink" / "postgresql-42.7.8.jar").unlink()
    _jars(settings, "postgresql-42.7.9.jar")
    link_classpath(settings)
    names = {p.name for p in lib.iterdir()}
    assert "postgresql-42.7.9.jar" in names and "postgresql-42.7.8.jar" not in names


def test_a_job_ships_every_jar_to_a_cluster_without_the_connectors(tmp_path, monkeypatch):
    settings = Settings(state_dir=tmp_path, flink_rest_url="http://flink.example:8081")
    _jars(settings, "flink-sql-connector-kafka-4.0.1-2.0.jar", "streampulse-functions.jar")
    every = ["flink-sql-connector-kafka-4.0.1-2.0.jar", "streampulse-functions.jar"]
    assert [p.name for p in settings.flink_job_jars(connectors_on_cluster=False)] == every
    # Asked (setting unset): the JobManager's classpath decides; an unreachable one means "ship them".
    dist = "/opt/flink/lib/flink-dist-2.0.2.jar"
    classpaths = {"with": [dist, "/opt/flink/lib/flink-sql-connector-kafka-4.0.1-2.0.jar"], "without": [dist]}
    for image, expected in (("with", True), ("without", False)):
        monkeypatch.setattr(FlinkRest, "jobmanager_classpath", lambda self, image=image: classpaths[image])
        assert deploy.connectors_on_cluster(settings) is expected

    def unreachable(self: FlinkRest) -> list[str]:
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(FlinkRest, "jobmanager_classpath", unreachable)
    assert deploy.connectors_on_cluster(settings) is False
    assert deploy.connectors_on_cluster(settings.model_copy(update={"flink_connectors_on_cluster": True})) is True
