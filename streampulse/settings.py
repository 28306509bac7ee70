"""One settings object for every StreamPulse process.

Everything comes from environment variables (see `.env.example`), so the same code runs against the
local stack that `streampulse stack up` starts, or against existing clusters. An endpoint that is
set explicitly (Kafka, registry, Flink, database) is *external*: the local stack does not start it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Ports, addresses and endpoints. Local defaults bind to 127.0.0.1 only."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMPULSE_",
        env_file=REPO_ROOT / ".env",
        extra="ignore",
        populate_by_name=True,
    )

    state_dir: Path = Field(REPO_ROOT / ".state", description="data, logs, pids, downloaded jars")
    reports_dir: Path = Field(REPO_ROOT / ".state" / "reports", description="daily reports: YYYY-MM-DD/ folders")
    bind_host: str = Field("127.0.0.1", description="address every local service binds to")

    # Ports of the local stack.
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    # Brokers of the local Kafka: 1 (the default) or 3 (replication 3, min ISR 2, so that acks=all means what
    # it says and one broker can crash without loss or a stop). Broker n listens on kafka_port + 100 * (n - 1).
    kafka_brokers: int = Field(1, ge=1, le=3)
    registry_port: int = 8085
    flink_rest_port: int = 8081
    flink_rpc_port: int = 6123  # JobManager RPC (a second local stack needs other ports)
    flink_blob_port: int = 6124
    zookeeper_port: int = 2181  # Flink's bundled ZooKeeper: JobManager high availability
    # ZooKeeper servers: 1 (the default) or 3, an ensemble that outlives one crashed server without Flink
    # losing its leader. Server n listens on zookeeper_port + n - 1 (peers on +10, elections on +20).
    zookeeper_nodes: int = Field(1, ge=1, le=3)
    postgres_port: int = 5433
    dagster_port: int = 3000
    api_port: int = 8000
    dashboard_port: int = 8501

    # External endpoints: set one and the local stack leaves that component to you.
    kafka_bootstrap_servers: str | None = None
    schema_registry_url: str | None = None
    flink_rest_url: str | None = None
    database_url: SecretStr | None = Field(None, validation_alias="DATABASE_URL")

    # Data layout.
    events_topic: str = "content-events"
    events_topic_partitions: int = 3
    alerts_topic: str = "cdn-alerts"
    # How long Kafka keeps events: also how far back a replay or a reconciliation can reach (docs/operations.md).
    events_retention_hours: float = 7 * 24
    # Topics the platform creates: 1 replica on the single local broker; 3 and min ISR 2 on a real cluster
    # (and on the local one with kafka_brokers=3, unless set here).
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 1
    database_name: str = "streampulse"
    database_user: str = "streampulse"

    # The local Flink cluster keeps its jobs through a JobManager crash (ZooKeeper HA: job graphs and
    # checkpoint pointers survive, the restarted JobManager resumes the jobs from their newest checkpoint).
    flink_high_availability: bool = True
    # How long a dead JobManager holds its leadership: the floor of the time to recover from its crash.
    flink_ha_session_timeout_ms: int = 8_000
    # Whether the Flink cluster has the third-party connectors (Kafka, JDBC, Avro registry) on its own
    # classpath, as a production image does (and the local stack): then each submission ships only
    # StreamPulse's own jar. None: ask the JobManager which jars it has (flink_jobs/deploy.py).
    flink_connectors_on_cluster: bool | None = None

    # Flink job behaviour. The job's name is also its Kafka consumer group and its checkpoint folder's name.
    flink_job_name: str = "streampulse-analytics"
    # Default: one subtask per core, at most one per partition of the events topic (a subtask without a
    # partition would hold the watermark back: there is no idle timeout, see below).
    flink_parallelism: int = Field(
        default_factory=lambda data: max(1, min(os.cpu_count() or 1, data["events_topic_partitions"])), ge=1
    )
    # Slots of the local TaskManager: one per concurrently running job at parallelism 1.
    flink_taskmanager_slots: int = 8
    # Local TaskManagers: a second one holds standby slots, so a job whose TaskManager crashed restarts on
    # it at once instead of waiting for the crashed JVM to come back (the chaos benchmark runs with 2).
    flink_taskmanagers: int = Field(1, ge=1, le=4)
    # The local TaskManagers' CPU priority (nice). On one machine a catching-up job takes every core; a lower
    # priority keeps the control plane (a restarting JobManager, ZooKeeper, Kafka, Dagster, the API) from
    # starving behind it, as separate hosts would. 0 = the same priority as everything else.
    flink_taskmanager_nice: int = Field(10, ge=0, le=19)
    # 5 s: after a restore the first checkpoint (the proof that every sink flushed) comes sooner, a restart
    # replays less, and the transactional alerts topic commits more often. A snapshot takes 0.5-3 s here.
    checkpoint_interval_ms: int = 5_000
    watermark_delay_seconds: int = 5
    # 0 = no idle timeout (the default): a partition that delivers nothing holds the watermark back.
    # A timeout lets the watermark pass an idle partition, whose next on-time events are then dropped by
    # windows that already fired (docs/operations.md): set it only if a partition can stay silent for good.
    source_idle_timeout_seconds: int = 0
    # The JDBC sinks flush every so often, or at 5,000 rows: part of every table's freshness (issue 16). Rows
    # come in bursts when windows close, so a short interval adds no steady load.
    sink_flush_interval: str = "200ms"
    # Flink options set on the job at submission, over the defaults of flink_jobs/deploy.py (JSON in the
    # environment: STREAMPULSE_FLINK_JOB_CONFIG='{"pipeline.object-reuse": "false"}').
    flink_job_config: dict[str, str] = Field(default_factory=dict)
    trending_top_n: int = 10

    # Anomaly detection: a minute is bad with at least `anomaly_min_requests` requests and a value over
    # its threshold; three bad minutes in a row make an anomaly.
    anomaly_min_requests: int = 20
    anomaly_error_rate_threshold: float = 0.10
    anomaly_latency_p95_threshold_ms: int = 600
    anomaly_regional_error_rate_threshold: float = 0.40

    # REST API. Rate limit per API key in `limits` notation ("100/second", "1000/minute;20/second"); its
    # counters live in `api_rate_limit_storage` (memory:// is per process: use redis://... for several workers).
    api_rate_limit: str = "100/second"
    api_rate_limit_storage: str = "memory://"
    api_cors_origins: list[str] = Field(default_factory=list, description="allowed browser origins; none by default")
    api_pool_size: int = 10
    api_key_cache_seconds: float = 1.0  # a revoked key stops working within this time
    # FastAPI's native OpenTelemetry (spans and metrics through the global providers). Off by default: even
    # with no provider configured it asks on every request whether one is, ~3% of a hot read's CPU.
    api_opentelemetry: bool = False
    api_max_alert_streams: int = 50
    # Bulk exports (/v1/exports): at most this many at once per API key (held as PostgreSQL advisory locks, so
    # the limit holds across workers), on a pool of their own so that exports never starve the other endpoints.
    api_max_exports_per_key: int = Field(2, ge=1)
    api_export_pool_size: int = Field(4, ge=1)

    # Notifications (notifier/, docs/notifications.md): channels, alert routes and report recipients live in
    # one YAML file (none: nothing is sent); email goes through this SMTP server. Secrets only from here or
    # the environment, as SecretStr (never logged).
    notifications_file: Path | None = None
    notifier_port: int = 8090  # the notifier's /health
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "streampulse@localhost"

    # Demo generator that `stack up` starts.
    demo_rate: float = 50.0

    # Operations (Dagster): retention of Flink state and the bounds of the real-time asset checks.
    flink_retention_hours: float = 24.0  # checkpoints of stopped jobs and old savepoints are pruned after this
    flink_savepoints_kept: int = 5  # the newest savepoints are kept whatever their age
    freshness_bound_seconds: int = 300  # newest window end must be at most this old
    max_consumer_lag: int = 10_000  # records the Flink job's consumer group may be behind
    dead_letter_threshold: int = 0  # dead-letter rows tolerated in the last 24 h

    # ----- derived endpoints -------------------------------------------------------------------
    @property
    def checkpoint_stale_s(self) -> float:
        """A last checkpoint older than this means checkpoints fail or stall (three intervals, at least 30 s)."""
        return max(30.0, 3 * self.checkpoint_interval_ms / 1000)

    @property
    def kafka_external(self) -> bool:
        return self.kafka_bootstrap_servers is not None

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or ",".join(f"{self.bind_host}:{p}" for p in self.kafka_broker_ports)

    @property
    def kafka_broker_ports(self) -> list[int]:
        """Client ports of the local brokers (broker n: kafka_port + 100 * (n - 1))."""
        return [self.kafka_port + 100 * i for i in range(self.kafka_brokers)]

    @property
    def zookeeper_ports(self) -> list[int]:
        """Client ports of the local ZooKeeper servers."""
        return [self.zookeeper_port + i for i in range(self.zookeeper_nodes)]

    @field_validator("kafka_brokers", "zookeeper_nodes")
    @classmethod
    def _one_or_three(cls, value: int) -> int:
        if value not in (1, 3):  # a quorum of two cannot survive losing one
            raise ValueError("1 or 3 (a quorum of 2 cannot lose a member)")
        return value

    @model_validator(mode="after")
    def _replicate_on_three_brokers(self) -> Settings:
        # Three local brokers exist to make acks=all mean something: replicate unless told otherwise.
        if self.kafka_brokers >= 3 and not self.kafka_external:
            if "kafka_replication_factor" not in self.model_fields_set:
                self.kafka_replication_factor = 3
            if "kafka_min_insync_replicas" not in self.model_fields_set:
                self.kafka_min_insync_replicas = 2
        return self

    @property
    def registry_external(self) -> bool:
        return self.schema_registry_url is not None

    @property
    def registry_url(self) -> str:
        return self.schema_registry_url or f"http://{self.bind_host}:{self.registry_port}/apis/ccompat/v7"

    @property
    def flink_external(self) -> bool:
        return self.flink_rest_url is not None

    @property
    def flink_url(self) -> str:
        return self.flink_rest_url or f"http://{self.bind_host}:{self.flink_rest_port}"

    @property
    def database_external(self) -> bool:
        return self.database_url is not None

    @property
    def postgres_password_file(self) -> Path:
        return self.state_dir / "secrets" / "postgres_password"

    def postgres_password(self) -> str:
        """The local cluster's generated password (created by `stack up`, mode 0600)."""
        try:
            return self.postgres_password_file.read_text().strip()
        except FileNotFoundError:
            return ""

    def dsn(self, database: str | None = None) -> str:
        """libpq connection URL for the platform database (or another database on that server)."""
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            if database is None:
                return url
            # Only the path changes: user, password, host and query options (sslmode, ...) stay.
            return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
        db = database or self.database_name
        return (
            f"postgresql://{self.database_user}:{self.postgres_password()}@{self.bind_host}:{self.postgres_port}/{db}"
        )

    def connection_parameters(self, database: str | None = None) -> dict[str, str]:
        """The DSN's parts as libpq reads them (host, port, user, password, dbname; percent-decoded)."""
        return conninfo_to_dict(self.dsn(database))

    def jdbc_url(self, database: str | None = None) -> str:
        """JDBC URL (no credentials) for Flink's JDBC sink."""
        params = self.connection_parameters(database)
        # Batched upserts are sent as multi-row statements: several times the rows per second.
        return (
            f"jdbc:postgresql://{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params['dbname']}"
            "?reWriteBatchedInserts=true"
        )

    def jdbc_credentials(self) -> tuple[str, str]:
        params = self.connection_parameters()
        return params.get("user", ""), params.get("password", "")

    # ----- state layout -----------------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        return self.state_dir / "lib"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    def flink_connector_jars(self) -> list[Path]:
        """Every jar a job needs: the third-party connectors and StreamPulse's own functions."""
        return sorted((self.lib_dir / "flink").glob("*.jar"))

    def flink_cluster_jars(self) -> list[Path]:
        """The third-party connectors: versioned and unchanging, so a cluster may hold them on its classpath."""
        return [p for p in self.flink_connector_jars() if not p.name.startswith(OWN_JAR_PREFIX)]

    def flink_job_jars(self, connectors_on_cluster: bool) -> list[Path]:
        """The jars each submission ships with the job (`pipeline.jars`)."""
        held = set(self.flink_cluster_jars()) if connectors_on_cluster else set()
        return sorted(set(self.flink_connector_jars()) - held)


# StreamPulse's own jars (flink_jobs/udf): rebuilt with the code, so they always travel with the job.
OWN_JAR_PREFIX = "streampulse-"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def env_for_children(settings: Settings) -> dict[str, str]:
    """Environment for processes the stack starts: inherit ours, pin the state directory."""
    env = dict(os.environ)
    env["STREAMPULSE_STATE_DIR"] = str(settings.state_dir)
    return env
