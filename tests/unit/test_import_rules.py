"""Imports run downward only (docs/architecture.md): read every module's imports with ast and check them
against what its folder may import. A new upward import fails here, with the file and the import named."""

from __future__ import annotations

import ast
from pathlib import Path

from streampulse.settings import REPO_ROOT

STAGES = {"streampulse", "generator", "flink_jobs", "reports", "api", "streamlit_app", "orchestration", "notifier"}
# What each folder may import besides itself (tests/ and bench/ may import anything).
ALLOWED = {
    "streampulse": set(),
    "generator": {"streampulse"},
    "flink_jobs": {"streampulse"},
    "reports": {"streampulse"},
    "api": {"streampulse"},
    "notifier": {"streampulse"},
    "streamlit_app": {"streampulse", "flink_jobs", "generator"},
    "orchestration": {"streampulse", "generator", "flink_jobs", "reports", "notifier"},
}
# The exceptions inside streampulse/, by module: the top-level CLI mounts each stage's typer app, and the
# local stack checks Flink's health with the REST client and calls the deploy step.
EXCEPTIONS = {
    "streampulse/cli.py": {"api.cli", "flink_jobs.cli"},
    "streampulse/stack/components.py": {"flink_jobs.rest"},
    "streampulse/stack/cli.py": {"flink_jobs.deploy"},
    # The dashboard acknowledges anomalies with the API's statement, as the API's writer role, and drills
    # into one with the statements of its impact endpoint.
    "streamlit_app/data.py": {"api.acks", "api.impact"},
}


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_no_folder_imports_a_stage_above_it():
    wrong = []
    for stage, allowed in ALLOWED.items():
        for path in sorted((REPO_ROOT / stage).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            for module in sorted(_imports(path)):
                top = module.split(".")[0]
                if top in STAGES and top != stage and top not in allowed:
                    if module not in EXCEPTIONS.get(relative, set()):
                        wrong.append(f"{relative} imports {module}")
    assert not wrong, "upward imports (see docs/architecture.md):\n" + "\n".join(wrong)


def test_the_stack_modules_do_not_import_each_other_in_a_circle():
    stack = REPO_ROOT / "streampulse" / "stack"
    graph = {p.stem: {m.rsplit(".", 1)[-1] for m in _imports(p) if m.startswith("streampulse.stack.")}
             for p in stack.glob("*.py")}  # fmt: skip
    for module, deps in graph.items():
        for dep in deps:
            assert module not in graph.get(dep, set()), f"stack/{module}.py and stack/{dep}.py import each other"


def test_the_shared_package_stays_small():
    lines = sum(len(p.read_text().splitlines()) for p in (REPO_ROOT / "streampulse").rglob("*.py"))
    assert lines <= 2000, f"streampulse/ holds {lines} lines: what belongs to a stage should move there"
