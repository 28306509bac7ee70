"""supervisord runs every local process: restarts, process groups, log files and clean stops.

We render one `supervisord.conf` into the state directory and talk to it over its unix socket
(XML-RPC), the same interface `supervisorctl` uses.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import xmlrpc.client
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from streampulse.settings import REPO_ROOT, Settings
from streampulse.stack import Component, StackError
from streampulse.waiting import wait_until


def _paths(settings: Settings) -> tuple[Path, Path, Path]:
    return (
        settings.state_dir / "conf" / "supervisord.conf",
        settings.run_dir / "supervisor.sock",
        settings.run_dir / "supervisord.pid",
    )


def _quote(arg: str) -> str:
    # supervisord splits `command` with shlex; %% escapes its own interpolation.
    import shlex

    return shlex.quote(arg).replace("%", "%%")


def render_config(settings: Settings, components: list[Component]) -> Path:
    conf_path, sock, pidfile = _paths(settings)
    parser = configparser.RawConfigParser()
    parser["unix_http_server"] = {"file": str(sock), "chmod": "0700"}
    parser["supervisord"] = {
        "logfile": str(settings.log_dir / "supervisord.log"),
        "pidfile": str(pidfile),
        "directory": str(REPO_ROOT),
        "identifier": "streampulse",
        "minfds": "4096",
    }
    parser["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    parser["supervisorctl"] = {"serverurl": f"unix://{sock}"}
    for c in components:
        section = {
            "command": " ".join(_quote(a) for a in c.command),
            "autostart": "false",
            # Keep the stack alive: a crashed process comes back (Flink then restores from checkpoint).
            "autorestart": "unexpected",
            "exitcodes": "0",
            "startsecs": "2",
            "startretries": "3",
            "stopsignal": c.stop_signal,
            "stopwaitsecs": str(c.stop_wait_s),
            # Stop and kill the whole process group: no JVM is left behind by a wrapper script.
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": str(c.log_file),
            "stdout_logfile_maxbytes": "50MB",
            "stdout_logfile_backups": "3",
            "directory": str(REPO_ROOT),
        }
        if c.env:
            section["environment"] = ",".join(f'{k}="{v}"' for k, v in c.env.items())
        if c.user:
            section["user"] = c.user
        parser[f"program:{c.name}"] = section
    conf_path.parent.mkdir(parents=True, exist_ok=True)
    with conf_path.open("w") as fh:
        fh.write("; Rendered by `streampulse stack up`; edits are overwritten.\n")
        parser.write(fh)
    conf_path.chmod(0o600)
    return conf_path


class Supervisor:
    """A client for our supervisord, starting it when asked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conf, self.sock, self.pidfile = _paths(settings)

    def _proxy(self) -> xmlrpc.client.ServerProxy:
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{self.sock}")
        )

    @property
    def rpc(self):  # noqa: ANN201 - dynamic XML-RPC namespace
        return self._proxy().supervisor

    def running(self) -> bool:
        if not self.sock.exists():
            return False
        try:
            return self.rpc.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def start_daemon(self) -> None:
        """Start supervisord (it daemonizes) or make a running one reread its configuration."""
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        if self.running():
            added, changed, removed = self.rpc.reloadConfig()[0]
            for name in removed:
                self.rpc.stopProcessGroup(name)
                self.rpc.removeProcessGroup(name)
            for name in changed:
                self.rpc.stopProcessGroup(name)
                self.rpc.removeProcessGroup(name)
                self.rpc.addProcessGroup(name)
            for name in added:
                self.rpc.addProcessGroup(name)
            return
        self.sock.unlink(missing_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(
                f"supervisord did not start: {result.stderr.strip() or result.stdout.strip()}; "
                f"read {self.settings.log_dir / 'supervisord.log'}"
            )
        try:
            wait_until(self.running, "supervisord answering", 20, interval_s=0.2)
        except TimeoutError:
            raise StackError(f"supervisord did not answer; read {self.settings.log_dir / 'supervisord.log'}") from None

    def info(self, name: str) -> dict | None:
        try:
            return self.rpc.getProcessInfo(name)
        except (OSError, xmlrpc.client.Fault):
            return None

    def all_info(self) -> dict[str, dict]:
        if not self.running():
            return {}
        return {p["name"]: p for p in self.rpc.getAllProcessInfo()}

    def start(self, name: str) -> None:
        info = self.info(name)
        if info and info["statename"] in ("RUNNING", "STARTING"):
            return
        try:
            self.rpc.startProcess(name, False)
        except xmlrpc.client.Fault as exc:
            raise StackError(f"supervisord could not start {name}: {exc.faultString}") from exc

    def stop(self, name: str) -> None:
        info = self.info(name)
        if not info or info["statename"] not in ("RUNNING", "STARTING", "BACKOFF"):
            return
        try:
            self.rpc.stopProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString:
                raise

    def shutdown(self, timeout_s: float = 60) -> None:
        if not self.running():
            return
        pid = int(self.pidfile.read_text().strip()) if self.pidfile.exists() else None
        self.rpc.shutdown()
        if pid is None:
            return
        import psutil

        try:
            psutil.Process(pid).wait(timeout_s)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired as exc:
            raise StackError(f"supervisord (pid {pid}) did not exit within {timeout_s:.0f} s") from exc
