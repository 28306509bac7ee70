"""Typed resources, configured from the same environment as every other StreamPulse process."""

from __future__ import annotations

import httpx
import psycopg
from dagster import ConfigurableResource

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
