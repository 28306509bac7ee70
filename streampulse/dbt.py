"""Run dbt (dbt_project/) against the platform database, with connection settings from ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streampulse.settings import REPO_ROOT, Settings

DBT_PROJECT = REPO_ROOT / "dbt_project"
# The dbt installed beside this interpreter (the virtualenv), whatever PATH says.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def dbt_connection_env(settings: Settings) -> dict[str, str]:
    """The DBT_* variables read by dbt_project/profiles.yml (the password never goes on a command line)."""
    params = settings.connection_parameters()
    return {
        "DBT_HOST": params.get("host") or "127.0.0.1",
        "DBT_PORT": str(params.get("port") or 5432),
        "DBT_USER": params.get("user", ""),
        "DBT_PASSWORD": params.get("password", ""),
        "DBT_DATABASE": params.get("dbname", ""),
    }


def dbt_env(settings: Settings) -> dict[str, str]:
    """Our environment plus the DBT_* connection variables, for a dbt subprocess."""
    return {**os.environ, **dbt_connection_env(settings)}


def run_dbt(settings: Settings, *args: str, log_dir: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    if log_dir is not None:
        cmd += ["--log-path", str(log_dir)]
    return subprocess.run(cmd, env=dbt_env(settings), capture_output=True, text=True, timeout=600)
