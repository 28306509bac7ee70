"""The Flink health sensor does not let a deploy run orphaned by a crash block every later redeploy."""

from __future__ import annotations

import json
import socket

from dagster import DagsterRunStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG

from orchestration.streaming.sensors import _orphaned


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(status: DagsterRunStatus, tags: dict) -> DagsterRun:
    return DagsterRun(job_name="deploy_flink_job", run_id="r1", status=status, tags=tags)


def test_a_started_run_whose_code_server_is_gone_is_orphaned():
    tags = {GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": _free_port()})}
    assert _orphaned(_run(DagsterRunStatus.STARTED, tags), pause_s=0.1)


def test_runs_not_started_and_runs_without_a_code_server_are_left_alone():
    dead = {GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": _free_port()})}
    assert not _orphaned(_run(DagsterRunStatus.NOT_STARTED, dead))
    assert not _orphaned(_run(DagsterRunStatus.STARTED, {}))
