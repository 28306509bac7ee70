"""The dbt project for dagster-dbt (`DbtProject`), prepared by dagster-dbt's own preparer.

`prepare_if_dev()` re-parses on every load under `dagster dev`, as dagster-dbt intends. The local stack and
the tests do not run `dagster dev` (supervisord runs the webserver and daemon; tests import the definitions),
and no build step packages a manifest for them, so every other load prepares the project when its manifest
is missing or older than the project's files. The preparation itself (`dbt parse` into target/, one process
at a time across the webserver, daemon and run workers, skipped when another process has just done it) is
dagster-dbt's.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_dbt import DbtProject

from streampulse.dbt import DBT_EXECUTABLE, DBT_PROJECT

dbt_project = DbtProject(project_dir=DBT_PROJECT, profiles_dir=DBT_PROJECT)


def _newest_source_mtime(project_dir: Path) -> float:
    files = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        files += [p for p in (project_dir / folder).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files if p.exists())


def manifest_is_current(project: DbtProject) -> bool:
    """Whether target/manifest.json exists and is newer than every file of the project."""
    manifest = Path(project.manifest_path)
    return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(Path(project.project_dir))


@contextmanager
def _virtualenv_on_path() -> Iterator[None]:
    # dagster-dbt's preparer runs `dbt` from PATH; ours is the one beside this interpreter, and a process
    # started as .venv/bin/python (the stack, the tests) does not have that folder on PATH.
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(DBT_EXECUTABLE.parent), before])
    try:
        yield
    finally:
        os.environ["PATH"] = before


def prepare(project: DbtProject = dbt_project) -> Path:
    """The project's manifest, parsed by dagster-dbt when needed; returns its path."""
    with _virtualenv_on_path():
        project.prepare_if_dev()
        if not manifest_is_current(project):
            project.preparer.prepare(project)
    return Path(project.manifest_path)
