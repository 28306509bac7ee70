"""The local stack: Kafka, schema registry, Flink, PostgreSQL and the apps, under supervisord.

This module holds what the stack's modules share (errors, `Component`), so that `components` (what runs)
and `supervisor` (how it runs) import it and not each other the wrong way: components -> supervisor only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """A stack operation failed; the message says what failed and which file to read."""

    exit_code = 1


class PreflightError(StackError):
    """Something the stack needs is missing or taken (Java, a port)."""

    exit_code = 2


@dataclass
class Component:
    name: str
    title: str
    group: str
    command: list[str]
    log_file: Path
    health: Callable[[], None]
    port: int | None = None
    port_setting: str | None = None
    url: str | None = None
    prepare: Callable[[], None] | None = None
    timeout_s: float = 90.0
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: str = "TERM"
    stop_wait_s: int = 30
    detail_log: Path | None = None  # where the component writes its own log, if not to stdout

    @property
    def logs_to_read(self) -> str:
        return f"{self.log_file}" + (f" and {self.detail_log}" if self.detail_log else "")
