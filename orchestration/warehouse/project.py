"""The dbt project for dagster-dbt, with a manifest that is parsed again whenever the project changes."""

import fcntl
from pathlib import Path

from dagster_dbt import DbtProject

from streampulse.dbt import DBT_PROJECT, run_dbt
from streampulse.settings import get_settings

dbt_project = DbtProject(project_dir=DBT_PROJECT, profiles_dir=DBT_PROJECT)


def _newest_source_mtime(project_dir: Path) -> float:
    files = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        files += [p for p in (project_dir / folder).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files if p.exists())


def ensure_manifest(project: DbtProject = dbt_project) -> Path:
    """target/manifest.json, parsed (`dbt parse`, no database needed) when missing or older than the project.

    Definitions are loaded by several processes at once (webserver, daemon, run workers): a file lock
    keeps them from parsing into the same target directory together.
    """
    manifest = Path(project.manifest_path)
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(Path(project.project_dir)):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(Path(project.project_dir)):
            result = run_dbt(get_settings(), "parse", "--target-path", str(manifest.parent))
            if result.returncode != 0:
                raise RuntimeError(f"dbt parse failed:\n{result.stdout[-4000:]}")
    return manifest
