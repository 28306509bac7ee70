"""Typed resources, configured from the same environment as every other StreamPulse process."""

from __future__ import annotations

import os

import httpx
import psycopg
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from streampulse.dbt import DBT_EXECUTABLE, DBT_PROJECT, dbt_connection_env
from streampulse.settings import Settings, get_settings


class PlatformSettings(ConfigurableResource):
    """Endpoints of Kafka, the registry, Flink and PostgreSQL (from STREAMPULSE_* / DATABASE_URL)."""

    def get(self) -> Settings:
        return get_settings()


class FlinkResource(ConfigurableResource):
    """The Flink cluster's REST API."""

    rest_url: str

    def get(self, path: str) -> dict:
        response = httpx.get(f"{self.rest_url}{path}", timeout=10)
        response.raise_for_status()
        return response.json()


class PostgresResource(ConfigurableResource):
    """The platform database (credentials are read at run time, never stored in Dagster)."""

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(get_settings().dsn(), autocommit=True, options="-c timezone=UTC")


class StreamPulseDbtResource(DbtCliResource):
    """dbt CLI on dbt_project/, connected to the platform database of the current settings.

    dbt_project/profiles.yml reads DBT_* variables; they are exported into the step's own process
    when the resource is set up, so the password reaches dbt without a command line or a log.
    """

    def setup_for_execution(self, context) -> None:  # noqa: ANN001
        super().setup_for_execution(context)
        os.environ.update(dbt_connection_env(get_settings()))


def dbt_resource() -> StreamPulseDbtResource:
    """The `dbt` resource (dagster-dbt) every domain shares."""
    return StreamPulseDbtResource(
        project_dir=str(DBT_PROJECT), profiles_dir=str(DBT_PROJECT), dbt_executable=str(DBT_EXECUTABLE)
    )
