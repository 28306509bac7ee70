"""Shared fixtures. End-to-end tests run against the real local stack, started here when needed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from streampulse import bootstrap
from streampulse.settings import REPO_ROOT, Settings, get_settings


def _core_healthy(settings: Settings) -> bool:
    from streampulse.stack.components import CORE, build_components
    from streampulse.stack.preflight import find_java

    try:
        for component in build_components(settings, find_java()):
            if component.group == CORE:
                component.health()
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """The real core stack (Kafka, registry, Flink, PostgreSQL): reused when up, else started and stopped."""
    settings = get_settings()
    started_here = False
    if not _core_healthy(settings):
        cmd = [sys.executable, "-m", "streampulse.cli", "stack", "up", "--core", "--no-job"]
        result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"could not start the stack:\n{result.stdout}\n{result.stderr}")
        started_here = True
    settings.__dict__["started_by_tests"] = started_here
    yield settings
    if started_here and not os.environ.get("STREAMPULSE_KEEP_STACK"):
        subprocess.run([sys.executable, "-m", "streampulse.cli", "stack", "down"], cwd=REPO_ROOT, timeout=300)


@dataclass
class Isolated:
    """A topic and a database of this test's own, on the shared stack."""

    settings: Settings
    topic: str
    database: str
    job_name: str

    @property
    def alerts_topic(self) -> str:
        return f"{self.topic}-alerts"

    def dsn(self) -> str:
        return self.settings.dsn(self.database)

    def scoped_settings(self) -> Settings:
        """Settings whose platform database and events topic are this test's own."""
        from pydantic import SecretStr

        update: dict = {"events_topic": self.topic}
        if self.settings.database_external:
            update["database_url"] = SecretStr(self.dsn())
        else:
            update["database_name"] = self.database
        return self.settings.model_copy(update=update)


def _isolate(stack: Settings, prefix: str = "test") -> Isolated:
    suffix = uuid.uuid4().hex[:8]
    iso = Isolated(stack, f"{prefix}-events-{suffix}", f"{prefix}_{suffix}", f"{prefix}-job-{suffix}")
    bootstrap.ensure_database(stack, iso.database)
    bootstrap.apply_migrations(stack, iso.database)
    bootstrap.ensure_topic(stack, iso.topic, partitions=3)
    bootstrap.ensure_topic(stack, iso.alerts_topic, partitions=1)
    return iso


def _drop(stack: Settings, iso: Isolated) -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    with psycopg.connect(stack.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{iso.database}" with (force)')
    # Keep the client until the deletions are done: a discarded client cancels them (_DESTROY), which left
    # every test's topics behind.
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    for future in admin.delete_topics([iso.topic, iso.alerts_topic]).values():
        with contextlib.suppress(KafkaException, TimeoutError):  # a topic the test never created; a slow broker
            future.result(timeout=30)


@pytest.fixture
def isolated(stack: Settings) -> Iterator[Isolated]:
    """A topic, an alerts topic and a database of this test's own, dropped afterwards."""
    iso = _isolate(stack)
    yield iso
    _drop(stack, iso)


# One marker per stage, so that one stage's end-to-end tests run alone (`pytest -m api`); registered in
# pyproject.toml. Given here by file, so the test files themselves stay as they are.
STAGE_OF_FILE = {
    "test_generator_e2e.py": "generator",
    "test_first_slice.py": "flink",
    "test_stream_analytics.py": "flink",
    "test_recovery.py": "flink",
    "test_dead_letters.py": "flink",
    "test_scale_out.py": "flink",
    "test_replay.py": "flink",
    "test_zz_chaos.py": "flink",
    "test_dbt_marts.py": "dbt",
    "test_bi_report.py": "dbt",
    "test_api.py": "api",
    "test_api_live.py": "api",
    "test_api_lean.py": "api",
    "test_anomaly_impact.py": "api",
    "test_api_exports.py": "api",
    "test_api_conformance.py": "api",
    "test_dashboard.py": "dashboard",
    "test_dashboard_browser.py": "dashboard",
    "test_first_run_browser.py": "dashboard",
    "test_dagster_ops.py": "orchestration",
    "test_deploy_once.py": "flink",
    "test_dagster_reconcile.py": "orchestration",
    "test_stack_commands.py": "localstack",
    "test_zz_restart.py": "localstack",
    "test_notifier.py": "notifier",
    "test_report_delivery.py": "notifier",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        stage = STAGE_OF_FILE.get(item.path.name)
        if stage:
            item.add_marker(getattr(pytest.mark, stage))
