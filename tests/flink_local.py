"""A local PyFlink TableEnvironment that can plan the job's SQL: no cluster, nothing submitted."""

from __future__ import annotations

import shutil

import pytest

from streampulse.settings import Settings


def job_table_env(settings: Settings):  # noqa: ANN201 - a PyFlink TableEnvironment
    """A fresh streaming TableEnvironment (UTC) with the job's connector jars: what planning the job needs."""
    jars = settings.flink_connector_jars()
    if shutil.which("java") is None or not jars:
        pytest.fail("the connector jars and Java are needed: run `make setup`")
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", ";".join(p.as_uri() for p in jars))
    env.get_config().set("table.local-time-zone", "UTC")
    return env
