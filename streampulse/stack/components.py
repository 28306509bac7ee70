"""What the local stack runs: one `Component` per supervised process, in start order.

Each component knows its command, its port (checked free before start), how to prepare its state
(render configuration, format storage, initdb) and how to tell it is healthy.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from string import Template

import httpx
import yaml

from flink_jobs.rest import FlinkRest
from streampulse.flink_classpath import flink_home, lib_folder, link_classpath
from streampulse.settings import REPO_ROOT, Settings
from streampulse.stack import Component, StackError
from streampulse.stack.preflight import Java
from streampulse.stack.supervisor import Supervisor

TEMPLATES = REPO_ROOT / "infra" / "templates"
CORE = "core"
APPS = "apps"


def node_name(base: str, node: int) -> str:
    """Node 1 of a replicated component keeps the single-node name (its folders too); then base-2, base-3."""
    return base if node == 1 else f"{base}-{node}"


def render(template: str, target: Path, **values: object) -> Path:
    text = Template((TEMPLATES / template).read_text()).substitute({k: str(v) for k, v in values.items()})
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _http_ok(url: str) -> Callable[[], None]:
    def check() -> None:
        response = httpx.get(url, timeout=3)
        if response.status_code != 200:
            raise StackError(f"GET {url} answered {response.status_code}")

    return check


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
def postgres_bin_dir() -> Path:
    """The newest Debian server package's bin directory (initdb, postgres)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    if found:
        return Path(found).resolve().parent
    raise StackError("PostgreSQL server binaries were not found. Run `make setup` (it installs Debian's postgresql).")


def _run_as_postgres_user() -> str | None:
    """PostgreSQL refuses to run as root; as root we run it as the `postgres` system user."""
    return "postgres" if os.geteuid() == 0 else None


def _chown_to(path: Path, user: str | None) -> None:
    if user:
        shutil.chown(path, user=user, group=user)


def prepare_postgres(settings: Settings) -> None:
    data = settings.data_dir / "postgres"
    user = _run_as_postgres_user()
    pw_file = settings.postgres_password_file
    if not pw_file.exists():
        pw_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        pw_file.write_text(secrets.token_urlsafe(24) + "\n")
        pw_file.chmod(0o600)
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    _chown_to(data, user)
    # initdb reads the password from a file the postgres user can read; remove it right after.
    tmp_pw = settings.run_dir / "initdb-pw"
    tmp_pw.parent.mkdir(parents=True, exist_ok=True)
    tmp_pw.write_text(settings.postgres_password())
    tmp_pw.chmod(0o600)
    _chown_to(tmp_pw, user)
    cmd = [
        str(postgres_bin_dir() / "initdb"),
        "-D", str(data),
        "--username", settings.database_user,
        "--pwfile", str(tmp_pw),
        "--auth-local", "scram-sha-256",
        "--auth-host", "scram-sha-256",
        "--encoding", "UTF8",
        "--locale", "C.UTF-8",
    ]  # fmt: skip
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    log = settings.log_dir / "postgres-initdb.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("w") as out:
            result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    finally:
        tmp_pw.unlink(missing_ok=True)
    if result.returncode != 0:
        raise StackError(f"initdb failed (exit {result.returncode}); read {log}")


def postgres_health(settings: Settings) -> Callable[[], None]:
    def check() -> None:
        import psycopg

        with psycopg.connect(settings.dsn("postgres"), connect_timeout=3) as conn:
            conn.execute("select 1")

    return check


# ---------------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------------
def kafka_node_name(node: int) -> str:
    return node_name("kafka", node)


def prepare_kafka(settings: Settings, java: Java, node: int = 1) -> None:
    name = kafka_node_name(node)
    conf = settings.state_dir / "conf" / name
    data = settings.data_dir / name
    host = settings.bind_host
    voters = ",".join(f"{n}@{host}:{settings.kafka_controller_port + 100 * (n - 1)}"
                      for n in range(1, settings.kafka_brokers + 1))  # fmt: skip
    render(
        "kafka-server.properties",
        conf / "server.properties",
        host=host,
        node_id=node,
        quorum_voters=voters,
        kafka_port=settings.kafka_broker_ports[node - 1],
        controller_port=settings.kafka_controller_port + 100 * (node - 1),
        data_dir=data,
        partitions=settings.events_topic_partitions,
        replication=settings.kafka_replication_factor,
        min_isr=settings.kafka_min_insync_replicas,
        session_timeout_ms=9000 if settings.kafka_brokers == 1 else 4000,
        heartbeat_ms=2000 if settings.kafka_brokers == 1 else 1000,
    )
    render("kafka-log4j2.properties", conf / "log4j2.properties", log_file=settings.log_dir / f"{name}-server.log")
    # The quorum is fixed when storage is formatted: a different broker count needs fresh Kafka storage.
    brokers_file = settings.data_dir / "kafka-brokers"
    if brokers_file.exists() and int(brokers_file.read_text()) != settings.kafka_brokers:
        raise StackError(
            f"Kafka storage in {settings.data_dir} was formatted for {brokers_file.read_text().strip()} broker(s), "
            f"not STREAMPULSE_KAFKA_BROKERS={settings.kafka_brokers}: run `streampulse stack down` and delete "
            f"{settings.data_dir}/kafka* to start Kafka afresh (its events are lost)."
        )
    if (data / "meta.properties").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    # Every node of the cluster is formatted with the same cluster id.
    id_file = settings.data_dir / "kafka-cluster-id"
    if not id_file.exists():
        id_file.write_text(_kafka_tool(settings, java, ["kafka.tools.StorageTool", "random-uuid"]).strip())
    brokers_file.write_text(str(settings.kafka_brokers))
    _kafka_tool(
        settings,
        java,
        ["kafka.tools.StorageTool", "format", "-t", id_file.read_text().strip(), "-c", str(conf / "server.properties"),
         "-g"],
        conf=conf,
    )  # fmt: skip


def _kafka_classpath(settings: Settings) -> str:
    lib = settings.lib_dir / "kafka"
    if not any(lib.glob("kafka_*.jar")):
        raise StackError(f"Kafka jars are missing in {lib}. Run `make setup`.")
    return f"{lib}/*"


def _kafka_tool(settings: Settings, java: Java, args: list[str], conf: Path | None = None) -> str:
    conf = conf or settings.state_dir / "conf" / "kafka"
    cmd = [
        str(java.executable),
        f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
        "-cp",
        _kafka_classpath(settings),
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise StackError(f"Kafka storage tool failed: {' '.join(args[:2])}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def kafka_command(settings: Settings, java: Java, node: int = 1) -> list[str]:
    conf = settings.state_dir / "conf" / kafka_node_name(node)
    return [
        str(java.executable),
        "-Xms512m",
        "-Xmx1g",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
        "-cp",
        _kafka_classpath(settings),
        "kafka.Kafka",
        str(conf / "server.properties"),
    ]


def kafka_health(settings: Settings, node: int = 1) -> Callable[[], None]:
    """The last broker is healthy when the cluster lists every broker; the ones before it (started first, one by
    one) when their controller listens: a quorum of three elects no leader until two are up."""
    port = settings.kafka_broker_ports[node - 1]
    controller_port = settings.kafka_controller_port + 100 * (node - 1)

    def check() -> None:
        from confluent_kafka.admin import AdminClient

        if node < settings.kafka_brokers:
            socket.create_connection((settings.bind_host, controller_port), timeout=3).close()
            return
        # A closed port first: librdkafka would print a "Connection refused" line per attempt while Kafka starts.
        socket.create_connection((settings.bind_host, port), timeout=3).close()
        admin = AdminClient({"bootstrap.servers": f"{settings.bind_host}:{port}", "socket.timeout.ms": 3000})
        metadata = admin.list_topics(timeout=3)
        if len(metadata.brokers) < settings.kafka_brokers:
            raise StackError(f"{len(metadata.brokers)} of {settings.kafka_brokers} brokers in the cluster's metadata")

    return check


# ---------------------------------------------------------------------------------------------
# Schema registry (Apicurio, Confluent-compatible API)
# ---------------------------------------------------------------------------------------------
def registry_command(settings: Settings, java: Java) -> list[str]:
    home = settings.lib_dir / "registry"
    runners = sorted(home.glob("apicurio-registry-app-*-runner.jar"))
    if not runners:
        raise StackError(f"The schema registry is missing in {home}. Run `make setup`.")
    db = settings.data_dir / "registry" / "registry"
    return [
        str(java.executable),
        "-Xmx512m",
        f"-Dquarkus.http.host={settings.bind_host}",
        f"-Dquarkus.http.port={settings.registry_port}",
        # Schemas persist across restarts in a file database: Flink looks writer schemas up by id.
        f"-Dapicurio.datasource.url=jdbc:h2:file:{db}",
        "-Dapicurio.rest.deletion.artifact.enabled=true",
        "-Dquarkus.log.console.color=false",
        "-jar",
        str(runners[-1]),
    ]


# ---------------------------------------------------------------------------------------------
# Flink session cluster (scripts and jars from the apache-flink wheel)
# ---------------------------------------------------------------------------------------------
def flink_ha_dir(settings: Settings) -> Path:
    return settings.data_dir / "flink" / "ha"


def zookeeper_data_dir(settings: Settings, node: int = 1) -> Path:
    return settings.data_dir / node_name("zookeeper", node)


def zookeeper_conf_dir(settings: Settings, node: int = 1) -> Path:
    """Flink's zookeeper.sh reads zoo.cfg from FLINK_CONF_DIR: one folder per server of an ensemble."""
    conf = settings.state_dir / "conf"
    return conf / "flink" if node == 1 else conf / f"flink-{node_name('zookeeper', node)}"


def zookeeper_quorum(settings: Settings) -> str:
    return ",".join(f"{settings.bind_host}:{port}" for port in settings.zookeeper_ports)


def _high_availability(settings: Settings) -> dict[str, object]:
    """Flink's ZooKeeper HA options: a restarted JobManager finds its jobs and their newest checkpoints."""
    if not settings.flink_high_availability:
        return {}
    return {
        "high-availability.type": "zookeeper",
        "high-availability.storageDir": flink_ha_dir(settings).as_uri(),
        "high-availability.cluster-id": "/streampulse",
        "high-availability.zookeeper.quorum": zookeeper_quorum(settings),
        # A killed JobManager keeps its leadership until its ZooKeeper session expires: this is the wait.
        "high-availability.zookeeper.client.session-timeout": settings.flink_ha_session_timeout_ms,
        "high-availability.zookeeper.client.connection-timeout": 5000,
        # A connection hiccup on a busy machine must not cost the leadership (only session expiry does).
        "high-availability.zookeeper.client.tolerate-suspended-connections": True,
        "zookeeper.heap.mb": 128,
    }


def _merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` merged in, nested mappings key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        merged[key] = _merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def flink_config(settings: Settings) -> dict:
    """The cluster's config.yaml as a dict: the static base (infra/templates/flink/config.yaml) plus this
    stack's addresses, ports, folders and high availability."""
    base = yaml.safe_load((TEMPLATES / "flink" / "config.yaml").read_text())
    host = settings.bind_host
    local = {
        "jobmanager": {"bind-host": host, "rpc": {"address": host, "port": settings.flink_rpc_port}},
        "taskmanager": {"bind-host": host, "host": host, "numberOfTaskSlots": settings.flink_taskmanager_slots},
        "blob": {"server": {"port": str(settings.flink_blob_port)}},
        "rest": {"address": host, "bind-address": host, "port": settings.flink_rest_port},
        "execution": {
            "checkpointing": {
                "dir": (settings.data_dir / "flink" / "checkpoints").as_uri(),
                "savepoint-dir": (settings.data_dir / "flink" / "savepoints").as_uri(),
            }
        },
    }
    return _merge(base, local) | _high_availability(settings)


def prepare_flink(settings: Settings) -> None:
    conf = settings.state_dir / "conf" / "flink"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "config.yaml").write_text(yaml.safe_dump(flink_config(settings), sort_keys=False, width=10_000))
    for name in ("log4j-console.properties", "log4j.properties", "log4j-cli.properties"):
        shutil.copy(flink_home() / "conf" / name, conf / name)
    (settings.data_dir / "flink" / "checkpoints").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "flink" / "savepoints").mkdir(parents=True, exist_ok=True)
    link_classpath(settings)


def prepare_zookeeper(settings: Settings, node: int = 1) -> None:
    """Render this server's zoo.cfg; on a fresh stack start, forget the previous run's HA state.

    HA state lives as long as the stack: it carries the jobs through a JobManager crash, while `stack up`
    after `stack down` (or a reboot) starts clean and resubmits the job from its newest retained checkpoint,
    as without HA. Checkpoints and savepoints are not touched.
    """
    if not Supervisor(settings).running():
        shutil.rmtree(zookeeper_data_dir(settings, node), ignore_errors=True)
        shutil.rmtree(flink_ha_dir(settings), ignore_errors=True)
    zookeeper_data_dir(settings, node).mkdir(parents=True, exist_ok=True)
    prepare_flink(settings)  # zookeeper.sh also reads Flink's config.yaml (heap) and log4j-console.properties
    conf = zookeeper_conf_dir(settings, node)
    if node > 1:
        conf.mkdir(parents=True, exist_ok=True)
        for name in ("config.yaml", "log4j-console.properties"):
            shutil.copy(zookeeper_conf_dir(settings) / name, conf / name)
    host, base = settings.bind_host, settings.zookeeper_port
    servers = "".join(
        f"server.{n}={host}:{base + 10 + n - 1}:{base + 20 + n - 1}\n" for n in range(1, settings.zookeeper_nodes + 1)
    ) if settings.zookeeper_nodes > 1 else ""  # fmt: skip
    render(
        "flink/zoo.cfg",
        conf / "zoo.cfg",
        data_dir=zookeeper_data_dir(settings, node),
        port=settings.zookeeper_ports[node - 1],
        host=host,
        servers=servers,
    )


def zookeeper_health(settings: Settings, node: int = 1) -> Callable[[], None]:
    def check() -> None:
        with socket.create_connection((settings.bind_host, settings.zookeeper_ports[node - 1]), timeout=3) as conn:
            conn.sendall(b"ruok")
            answer = conn.recv(16)
        if answer != b"imok":
            raise StackError(f"ZooKeeper answered {answer!r} to ruok")

    return check


def flink_env(settings: Settings, java: Java) -> dict[str, str]:
    return {
        "FLINK_CONF_DIR": str(settings.state_dir / "conf" / "flink"),
        "FLINK_LOG_DIR": str(settings.log_dir / "flink"),
        "FLINK_PID_DIR": str(settings.run_dir),
        "JAVA_HOME": str(java.home),
    }


def flink_health(settings: Settings, name: str = "flink-taskmanager") -> Callable[[], None]:
    def check() -> None:
        registered = {tm.get("id") for tm in FlinkRest.from_settings(settings, timeout_s=3).taskmanagers()}
        if name not in registered:
            raise StackError(f"TaskManager {name} not registered yet")

    return check


def flink_jobmanager_health(settings: Settings) -> Callable[[], None]:
    def check() -> None:
        FlinkRest.from_settings(settings, timeout_s=3).cluster_config()

    return check


# ---------------------------------------------------------------------------------------------
# Dagster, API, dashboard, demo generator
# ---------------------------------------------------------------------------------------------
def dagster_home(settings: Settings) -> Path:
    return settings.state_dir / "dagster"


def prepare_dagster(settings: Settings) -> None:
    home = dagster_home(settings)
    render("dagster.yaml", home / "dagster.yaml")


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def build_components(settings: Settings, java: Java) -> list[Component]:
    """Every component the local stack manages, in start order. External endpoints are skipped."""
    logs = settings.log_dir
    py = sys.executable
    host = settings.bind_host
    app_env = {"PYTHONUNBUFFERED": "1", "STREAMPULSE_STATE_DIR": str(settings.state_dir)}
    components: list[Component] = []
    if not settings.database_external:
        components.append(
            Component(
                name="postgres",
                title="PostgreSQL",
                group=CORE,
                command=[
                    str(postgres_bin_dir() / "postgres"),
                    "-D",
                    str(settings.data_dir / "postgres"),
                    "-c",
                    f"listen_addresses={host}",
                    "-c",
                    f"port={settings.postgres_port}",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "timezone=UTC",
                    "-c",
                    "log_timezone=UTC",
                    "-c",
                    "max_connections=200",
                    # A crash replays the WAL written since the last checkpoint: with the default 5 min the
                    # chaos bench's PostgreSQL kill replayed 290 MB in 11.5 s before accepting connections.
                    "-c",
                    "checkpoint_timeout=60s",
                ],  # fmt: skip
                log_file=logs / "postgres.log",
                health=postgres_health(settings),
                port=settings.postgres_port,
                port_setting="STREAMPULSE_POSTGRES_PORT",
                url=f"postgresql://{settings.database_user}@{host}:{settings.postgres_port}/{settings.database_name}",
                prepare=lambda: prepare_postgres(settings),
                timeout_s=60,
                user=_run_as_postgres_user(),
                stop_signal="INT",  # fast shutdown: abort transactions, checkpoint, exit
            )
        )
    if not settings.kafka_external:
        for node in range(1, settings.kafka_brokers + 1):
            name = kafka_node_name(node)
            components.append(
                Component(
                    name=name,
                    title="Kafka broker (KRaft)" + (f", node {node} of {settings.kafka_brokers}" if node > 1 else ""),
                    group=CORE,
                    command=kafka_command(settings, java, node),
                    log_file=logs / f"{name}.log",
                    detail_log=logs / f"{name}-server.log",
                    health=kafka_health(settings, node),
                    port=settings.kafka_broker_ports[node - 1],
                    port_setting="STREAMPULSE_KAFKA_PORT",
                    url=settings.bootstrap_servers,
                    prepare=lambda node=node: prepare_kafka(settings, java, node),
                    timeout_s=90,
                )
            )
    if not settings.registry_external:
        components.append(
            Component(
                name="registry",
                title="Schema registry (Apicurio)",
                group=CORE,
                command=registry_command(settings, java),
                log_file=logs / "registry.log",
                health=_http_ok(f"{settings.registry_url}/subjects"),
                port=settings.registry_port,
                port_setting="STREAMPULSE_REGISTRY_PORT",
                url=settings.registry_url,
                timeout_s=120,
            )
        )
    if not settings.flink_external:
        fhome = flink_home()
        # Flink's jars and the connectors: a job then ships only StreamPulse's own jar (streampulse/flink_classpath.py)
        cluster_env = flink_env(settings, java) | {"FLINK_LIB_DIR": str(lib_folder(settings))}
        if settings.flink_high_availability:
            for node in range(1, settings.zookeeper_nodes + 1):
                name = node_name("zookeeper", node)
                components.append(
                    Component(
                        name=name,
                        title="ZooKeeper (Flink HA)"
                        + (f", server {node} of {settings.zookeeper_nodes}" if node > 1 else ""),
                        group=CORE,
                        command=["bash", str(fhome / "bin" / "zookeeper.sh"), "start-foreground", str(node)],
                        log_file=logs / f"{name}.log",
                        health=zookeeper_health(settings, node),
                        port=settings.zookeeper_ports[node - 1],
                        port_setting="STREAMPULSE_ZOOKEEPER_PORT",
                        url=f"{host}:{settings.zookeeper_ports[node - 1]}",
                        prepare=lambda node=node: prepare_zookeeper(settings, node),
                        env=flink_env(settings, java) | {"FLINK_CONF_DIR": str(zookeeper_conf_dir(settings, node))},
                        timeout_s=60,
                    )
                )
        components += [
            Component(
                name="flink-jobmanager",
                title="Flink JobManager",
                group=CORE,
                command=["bash", str(fhome / "bin" / "jobmanager.sh"), "start-foreground"],
                log_file=logs / "flink-jobmanager.log",
                detail_log=logs / "flink" / "flink-*-standalonesession-*.log",
                health=flink_jobmanager_health(settings),
                port=settings.flink_rest_port,
                port_setting="STREAMPULSE_FLINK_REST_PORT",
                url=settings.flink_url,
                prepare=lambda: prepare_flink(settings),
                env=cluster_env,
                timeout_s=120,
            ),
        ]
        for node in range(1, settings.flink_taskmanagers + 1):
            name = node_name("flink-taskmanager", node)
            components.append(
                Component(
                    name=name,
                    title="Flink TaskManager" + (f" {node} (standby slots)" if node > 1 else ""),
                    group=CORE,
                    # The resource id names the component: the chaos bench finds which one runs the job.
                    command=[
                        "nice",
                        "-n",
                        str(settings.flink_taskmanager_nice),
                        "bash",
                        str(fhome / "bin" / "taskmanager.sh"),
                        "start-foreground",
                        "-D",
                        f"taskmanager.resource-id={name}",
                    ],  # fmt: skip
                    log_file=logs / f"{name}.log",
                    detail_log=logs / "flink" / "flink-*-taskexecutor-*.log",
                    health=flink_health(settings, name),
                    prepare=lambda: link_classpath(settings),
                    env=cluster_env,
                    timeout_s=120,
                )
            )
    dagster_env = {**app_env, "DAGSTER_HOME": str(dagster_home(settings))}
    workspace = str(REPO_ROOT / "workspace.yaml")
    with_db = [py, "-m", "streampulse.stack.with_db_env"]
    components += [
        Component(
            name="dagster-webserver",
            title="Dagster UI",
            group=APPS,
            command=[
                *with_db,
                _bin("dagster-webserver"),
                "-h",
                host,
                "-p",
                str(settings.dagster_port),
                "-w",
                workspace,
            ],
            log_file=logs / "dagster-webserver.log",
            health=_http_ok(f"http://{host}:{settings.dagster_port}/server_info"),
            port=settings.dagster_port,
            port_setting="STREAMPULSE_DAGSTER_PORT",
            url=f"http://{host}:{settings.dagster_port}",
            prepare=lambda: prepare_dagster(settings),
            env=dagster_env,
            timeout_s=180,
        ),
        Component(
            name="dagster-daemon",
            title="Dagster daemon",
            group=APPS,
            command=[*with_db, _bin("dagster-daemon"), "run", "-w", workspace],
            log_file=logs / "dagster-daemon.log",
            health=lambda: None,
            env=dagster_env,
            timeout_s=60,
        ),
        Component(
            name="api",
            title="REST API",
            group=APPS,
            command=[py, "-m", "uvicorn", "api.main:app", "--host", host, "--port", str(settings.api_port)],
            log_file=logs / "api.log",
            health=_http_ok(f"http://{host}:{settings.api_port}/health"),
            port=settings.api_port,
            port_setting="STREAMPULSE_API_PORT",
            url=f"http://{host}:{settings.api_port}/docs",
            env=app_env,
            timeout_s=60,
        ),
        Component(
            name="notifier",
            title="Alert notifier",
            group=APPS,
            command=[py, "-m", "notifier", "run"],
            log_file=logs / "notifier.log",
            health=_http_ok(f"http://{host}:{settings.notifier_port}/health"),
            port=settings.notifier_port,
            port_setting="STREAMPULSE_NOTIFIER_PORT",
            url=f"http://{host}:{settings.notifier_port}/health",
            env=app_env,
            timeout_s=60,
        ),
        Component(
            name="dashboard",
            title="Analyst dashboard",
            group=APPS,
            command=[
                py,
                "-m",
                "streamlit",
                "run",
                str(REPO_ROOT / "streamlit_app" / "streamlit_app.py"),
                "--server.address",
                host,
                "--server.port",
                str(settings.dashboard_port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],  # fmt: skip
            log_file=logs / "dashboard.log",
            health=_http_ok(f"http://{host}:{settings.dashboard_port}/_stcore/health"),
            port=settings.dashboard_port,
            port_setting="STREAMPULSE_DASHBOARD_PORT",
            url=f"http://{host}:{settings.dashboard_port}",
            env=app_env,
            timeout_s=90,
        ),
        Component(
            name="generator",
            title="Demo event generator",
            group=APPS,
            command=[py, "-m", "generator", "--rate", str(settings.demo_rate), "--quiet"],
            log_file=logs / "generator.log",
            health=lambda: None,
            env=app_env,
            stop_signal="INT",
            timeout_s=30,
        ),
    ]
    return components
