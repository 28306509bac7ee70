"""Run dbt (dbt_project/) against the platform database, with connection settings from ours."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from streampulse.settings import REPO_ROOT, Settings

DBT_PROJECT = REPO_ROOT / "dbt_project"


def dbt_env(settings: Settings) -> dict[str, str]:
    """DBT_* variables read by dbt_project/profiles.yml (the password never goes on a command line)."""
    parts = urlsplit(settings.dsn())
    return {
        **os.environ,
        "DBT_HOST": parts.hostname or "127.0.0.1",
        "DBT_PORT": str(parts.port or 5432),
        "DBT_USER": unquote(parts.username or ""),
        "DBT_PASSWORD": unquote(parts.password or ""),
        "DBT_DATABASE": parts.path.lstrip("/"),
    }


def run_dbt(settings: Settings, *args: str, log_dir: Path | None = None) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).parent / "dbt"
    cmd = [str(dbt), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    if log_dir is not None:
        cmd += ["--log-path", str(log_dir)]
    return subprocess.run(cmd, env=dbt_env(settings), capture_output=True, text=True, timeout=600)
