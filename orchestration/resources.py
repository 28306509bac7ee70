"""Typed resources, configured from the same environment as every other StreamPulse process.

`platform_resources()` builds them once from `Settings` (STREAMPULSE_* variables, DATABASE_URL):
one place decides local, CI or production. Their fields show in the Dagster UI and can be
overridden per run (run config `resources:`); secrets are never fields: the PostgreSQL password
is read when a connection opens.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from pydantic import SecretStr

from flink_jobs.rest import FlinkRest
from streampulse.dbt import DBT_EXECUTABLE, DBT_PROJECT, dbt_connection_env
from streampulse.kafka import PartitionLag, consumer_lag
from streampulse.settings import Settings, get_settings


class KafkaResource(ConfigurableResource):
    """Kafka: the bootstrap servers and the platform's topics."""

    bootstrap_servers: str
    events_topic: str
    alerts_topic: str

    def consumer_lag(self, group_id: str, topic: str) -> list[PartitionLag]:
        """Per partition of `topic`: end offset, what the group committed, and its lag (streampulse.kafka)."""
        return consumer_lag(self.bootstrap_servers, topic, [group_id])


class SchemaRegistryResource(ConfigurableResource):
    """The schema registry's Confluent-compatible API (Apicurio locally)."""

    url: str

    def subjects(self) -> list[str]:
        response = httpx.get(f"{self.url}/subjects", timeout=10)
        response.raise_for_status()
        return response.json()

    def latest_version(self, subject: str) -> dict:
        response = httpx.get(f"{self.url}/subjects/{subject}/versions/latest", timeout=10)
        response.raise_for_status()
        return response.json()


class FlinkResource(ConfigurableResource):
    """The Flink cluster's REST API, and the name of the analytics job on it (also its Kafka consumer group)."""

    rest_url: str
    job_name: str = Settings.model_fields["flink_job_name"].default

    @property
    def rest(self) -> FlinkRest:
        """The Flink REST client (flink_jobs/rest.py) for this cluster."""
        return FlinkRest(self.rest_url)


class PostgresResource(ConfigurableResource):
    """A database on the platform's PostgreSQL server (credentials are read at run time, never stored in Dagster)."""

    database: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(get_settings().dsn(self.database), autocommit=True, options="-c timezone=UTC")


def platform_settings(
    kafka: KafkaResource | None = None, postgres: PostgresResource | None = None, flink: FlinkResource | None = None
) -> Settings:
    """The Settings the library code (generator, Flink runner) expects, pointed at these resources."""
    base = get_settings()
    update: dict = {}
    if kafka is not None:
        update |= {"events_topic": kafka.events_topic, "alerts_topic": kafka.alerts_topic}
        if kafka.bootstrap_servers != base.bootstrap_servers:
            update["kafka_bootstrap_servers"] = kafka.bootstrap_servers
    if postgres is not None:
        update["database_name"] = postgres.database
        if base.database_external:
            update["database_url"] = SecretStr(base.dsn(postgres.database))
    if flink is not None:
        update["flink_job_name"] = flink.job_name
        if flink.rest_url != base.flink_url:
            update["flink_rest_url"] = flink.rest_url
    return base.model_copy(update=update)


def platform_resources(settings: Settings | None = None) -> dict[str, ConfigurableResource]:
    """Every shared resource, configured from the settings (the environment)."""
    settings = settings or get_settings()
    return {
        "kafka": KafkaResource(
            bootstrap_servers=settings.bootstrap_servers,
            events_topic=settings.events_topic,
            alerts_topic=settings.alerts_topic,
        ),
        "schema_registry": SchemaRegistryResource(url=settings.registry_url),
        "flink": FlinkResource(rest_url=settings.flink_url, job_name=settings.flink_job_name),
        "postgres": PostgresResource(database=settings.connection_parameters()["dbname"]),
        "dbt": dbt_resource(),
    }


class StreamPulseDbtResource(DbtCliResource):
    """dbt CLI on dbt_project/, connected to a database on the platform's PostgreSQL server.

    dbt_project/profiles.yml reads DBT_* variables; they are exported into the step's own process
    when the resource is set up, so the password reaches dbt without a command line or a log.
    """

    database: str | None = None  # None: the platform database of the settings

    def _settings(self) -> Settings:
        return platform_settings(postgres=PostgresResource(database=self.database) if self.database else None)

    def setup_for_execution(self, context) -> None:  # noqa: ANN001
        super().setup_for_execution(context)
        os.environ.update(dbt_connection_env(self._settings()))

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the database's dbt build lock (a PostgreSQL advisory lock, also taken by the tests):
        two builds into one database at once (a schedule tick and a manual run) would race on relations."""
        with psycopg.connect(self._settings().dsn(), autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(hashtext('streampulse: dbt build'))")
            yield


def dbt_resource(database: str | None = None) -> StreamPulseDbtResource:
    """The `dbt` resource (dagster-dbt) every domain shares."""
    return StreamPulseDbtResource(
        project_dir=str(DBT_PROJECT),
        profiles_dir=str(DBT_PROJECT),
        dbt_executable=str(DBT_EXECUTABLE),
        database=database,
    )
