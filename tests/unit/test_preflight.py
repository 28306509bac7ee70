import socket

import pytest

from streampulse.stack import PreflightError
from streampulse.stack.preflight import check_ports_free, find_java, port_owner


def test_port_owner_names_the_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        owner = port_owner("127.0.0.1", port)
        assert owner is not None and "python" in owner
        with pytest.raises(PreflightError, match=rf"port {port} for Kafka .* STREAMPULSE_KAFKA_PORT"):
            check_ports_free("127.0.0.1", {"Kafka": (port, "STREAMPULSE_KAFKA_PORT")})


def test_java_home_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(PreflightError, match="JAVA_HOME is set to .* not an executable"):
        find_java()


def test_no_java_anywhere(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PreflightError, match="Java was not found.*make setup"):
        find_java()


def test_old_java_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(PreflightError, match="Java 11; StreamPulse needs Java 17"):
        find_java()
