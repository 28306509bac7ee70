"""The dbt project's preparation for Dagster (orchestration/warehouse/project.py): dagster-dbt's preparer runs
when the manifest is missing or older than the project, not otherwise, and finds our dbt."""

import os
import shutil
import time
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from orchestration.warehouse import project as warehouse
from streampulse.dbt import DBT_EXECUTABLE, DBT_PROJECT


def test_the_preparer_runs_only_for_a_missing_or_stale_manifest(tmp_path, monkeypatch):
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(DBT_PROJECT / name, tmp_path)
    shutil.copytree(DBT_PROJECT / "models", tmp_path / "models")
    dbt_project = DbtProject(project_dir=tmp_path, profiles_dir=tmp_path)
    runs: list[str | None] = []

    def fake_prepare(self, project: DbtProject) -> None:  # noqa: ANN001
        runs.append(shutil.which("dbt"))  # what dagster-dbt's DbtCliResource would run
        Path(project.manifest_path).parent.mkdir(exist_ok=True)
        Path(project.manifest_path).write_text("{}")

    monkeypatch.setattr(DagsterDbtProjectPreparer, "prepare", fake_prepare)
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    path_before = os.environ["PATH"]

    assert warehouse.prepare(dbt_project) == tmp_path / "target" / "manifest.json"  # missing: prepared
    assert runs == [str(DBT_EXECUTABLE)] and os.environ["PATH"] == path_before
    warehouse.prepare(dbt_project)  # current: left alone
    assert len(runs) == 1
    now = time.time()  # a model edited after the last parse
    os.utime(dbt_project.manifest_path, (now - 10, now - 10))
    os.utime(tmp_path / "models" / "staging" / "_sources.yml", (now - 5, now - 5))
    assert not warehouse.manifest_is_current(dbt_project)
    warehouse.prepare(dbt_project)  # a model changed: prepared again
    assert len(runs) == 2 and warehouse.manifest_is_current(dbt_project)
