"""Checks that run before anything starts: Java is there, and our ports are free."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from streampulse.stack import PreflightError

MIN_JAVA = 17


@dataclass(frozen=True)
class Java:
    executable: Path
    home: Path
    major: int


def find_java() -> Java:
    """Locate Java 17+ from JAVA_HOME, else from PATH; raise PreflightError saying how to fix it."""
    hint = "Run `make setup` (it installs openjdk-17-jre-headless), or point JAVA_HOME at a Java 17+ JDK."
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        exe = Path(java_home) / "bin" / "java"
        if not os.access(exe, os.X_OK):
            raise PreflightError(f"JAVA_HOME is set to {java_home}, but {exe} is not an executable. {hint}")
    else:
        found = shutil.which("java")
        if not found:
            raise PreflightError(
                "Java was not found: JAVA_HOME is not set and there is no `java` on PATH. Kafka, Flink and "
                f"the schema registry need Java {MIN_JAVA} or newer. {hint}"
            )
        exe = Path(found).resolve()
    try:
        out = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreflightError(f"Could not run {exe} -version: {exc}. {hint}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise PreflightError(f"Could not read the Java version from `{exe} -version`: {out.strip()!r}. {hint}")
    major = int(match.group(1))
    if major == 1:  # "1.8.0_..." style
        major = int(match.group(2) or 0)
    if major < MIN_JAVA:
        raise PreflightError(f"{exe} is Java {major}; StreamPulse needs Java {MIN_JAVA} or newer. {hint}")
    return Java(executable=exe, home=exe.parent.parent, major=major)


def port_owner(host: str, port: int) -> str | None:
    """Who listens on host:port, as 'pid N (name)', or None when the port is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return None
        except OSError:
            pass
    try:
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                try:
                    name = psutil.Process(conn.pid).name()
                except psutil.Error:
                    name = "?"
                return f"pid {conn.pid} ({name})"
    except psutil.AccessDenied:
        pass
    return "another process"


def check_ports_free(host: str, ports: dict[str, tuple[int, str]]) -> None:
    """ports: component -> (port, the setting that moves it). Raise naming every port that is taken."""
    taken = []
    for component, (port, setting) in ports.items():
        owner = port_owner(host, port)
        if owner:
            taken.append(
                f"  port {port} for {component} is already in use by {owner}: stop it, or set {setting} to a free port"
            )
    if taken:
        raise PreflightError("Cannot start the stack, ports are taken:\n" + "\n".join(taken))
