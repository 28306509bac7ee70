"""The stack commands fail clearly (port taken, no Java) and start nothing when they do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from streampulse.settings import REPO_ROOT, get_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_stack_up(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streampulse.cli", "stack", "up", "--core"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def scratch_env(tmp_path) -> dict[str, str]:
    """A separate state directory (sharing the downloaded jars) and free ports for every component."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "lib").symlink_to(get_settings().lib_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPULSE_")}
    env["STREAMPULSE_STATE_DIR"] = str(state)
    for name in ("KAFKA", "KAFKA_CONTROLLER", "REGISTRY", "FLINK_REST", "POSTGRES"):
        env[f"STREAMPULSE_{name}_PORT"] = str(_free_port())
    return env


def test_port_in_use_is_named_and_nothing_starts(scratch_env):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        scratch_env["STREAMPULSE_KAFKA_PORT"] = str(port)
        result = _run_stack_up(scratch_env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port} for Kafka broker (KRaft) is already in use by pid {os.getpid()}" in result.stderr
    assert "STREAMPULSE_KAFKA_PORT" in result.stderr
    state = scratch_env["STREAMPULSE_STATE_DIR"]
    assert not os.path.exists(f"{state}/run/supervisor.sock"), "nothing may start when a port is taken"


def test_missing_java_is_a_clear_error(scratch_env, tmp_path):
    scratch_env.pop("JAVA_HOME", None)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    scratch_env["PATH"] = str(empty)
    result = _run_stack_up(scratch_env)
    assert result.returncode == 2
    assert "Java was not found" in result.stderr and "make setup" in result.stderr
