"""Compiled plans: the job's optimised plan, compiled once per SQL and configuration, executed on every submission.

Planning the statement set (Calcite's optimiser over every query of the job) costs a fresh client tens of
CPU-seconds; a redeploy after a fault waits for it. Flink can write the optimised plan as JSON
(`COMPILE PLAN '<file>' FOR STATEMENT SET ...`) and submit it later without planning (`EXECUTE PLAN '<file>'`).

Every submission executes a plan file, also the first one (it compiles the file, then executes it), so each
job of this platform is built the same way. That matters for state: a job built from a plan gives each
operator an explicit uid (`<exec node id>_<transformation>`, `table.exec.uid.generation` PLAN_ONLY), a job
built from SQL does not (Flink derives ids from the graph), so a checkpoint of one cannot be restored into
the other. Compiling the same SQL and configuration again gives the same file byte for byte
(tests/unit/test_flink_compiled_plan.py), hence the same uids: a lost cache only costs one compilation.

The plan carries the tables it reads and writes (with their options: the file holds the JDBC password, so it
is private to the owner, like the secrets folder), but not temporary functions (referred to by name) or
`SET`s: those statements run before `EXECUTE PLAN` as before `COMPILE PLAN`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from streampulse.settings import Settings

if TYPE_CHECKING:
    from pyflink.table import TableEnvironment, TableResult

# Table and view DDL: the plan carries the tables (resolved, with their options) and needs no views.
_CARRIED_BY_PLAN = re.compile(r"(CREATE(\s+OR\s+REPLACE)?|ALTER)\s+(TEMPORARY\s+)?(TABLE|VIEW)\b", re.IGNORECASE)
_JOB = re.compile(r"(EXECUTE\s+)?(STATEMENT\s+SET|INSERT)\b", re.IGNORECASE)
# Options that say where the client sends the job, not what the job is.
_NOT_PLANNING = ("rest.address", "rest.port", "execution.target", "execution.attached")


def is_job(statement: str) -> bool:
    """`INSERT ...` or `EXECUTE STATEMENT SET ...`: what runs as the job (and is compiled)."""
    return bool(_JOB.match(statement.lstrip()))


def carried_by_plan(statement: str) -> bool:
    """Table and view DDL (CREATE/ALTER): executing a plan needs none of it."""
    return bool(_CARRIED_BY_PLAN.match(statement.lstrip()))


def compile_statement(job: str) -> str:
    """The job statement as a `COMPILE PLAN ... FOR` body: a statement set loses its leading EXECUTE."""
    text = job.lstrip()
    match = re.match(r"EXECUTE\s+(?=STATEMENT\s+SET\b)", text, re.IGNORECASE)
    return text[match.end() :] if match else text


def plan_key(statements: list[str], config: dict[str, str], jars: list[Path]) -> str:
    """What the plan depends on: Flink's version, the rendered statements, the options that shape the job
    and the jars' identities (a rebuilt function jar may change its types). A change in any is a new plan."""
    payload = {
        "flink": version("apache-flink"),
        "statements": statements,
        "config": sorted((k, v) for k, v in config.items() if k not in _NOT_PLANNING),
        "jars": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in jars],
    }
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def plan_dir(settings: Settings) -> Path:
    return settings.data_dir / "flink" / "plans"


def plan_path(settings: Settings, sql_version: str, key: str) -> Path:
    """The cached plan of a SQL version and key: <data>/flink/plans/<sql version>-<key>.json."""
    return plan_dir(settings) / f"{sql_version}-{key}.json"


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def canonical_node_ids(plan: dict) -> dict:
    """The plan with its nodes numbered 1..N in file order (edges follow).

    Flink numbers nodes from a counter that lives as long as the JVM, and the operator uids are made of these
    numbers: compiled in a JVM that had planned something before, the same SQL would get other uids, and its
    checkpoints would not restore into a plan compiled afresh (or, worse, could map onto another operator of
    the same kind). A fresh JVM numbers them 1..N already; this makes any compilation give that numbering."""
    new_id = {node["id"]: number for number, node in enumerate(plan["nodes"], start=1)}
    if all(old == new for old, new in new_id.items()):
        return plan
    nodes = [{**node, "id": new_id[node["id"]]} for node in plan["nodes"]]
    edges = [{**e, "source": new_id[e["source"]], "target": new_id[e["target"]]} for e in plan["edges"]]
    return {**plan, "nodes": nodes, "edges": edges}


def compile_plan(env: TableEnvironment, job: str, path: Path) -> None:
    """Compile the job statement into `path` (the tables and functions it uses must be registered in `env`).

    Written under a temporary name, then renamed: a concurrent submission sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        env.execute_sql(f"COMPILE PLAN {_quoted(tmp)} FOR {compile_statement(job)}")
        tmp.chmod(0o600)  # it holds the sinks' JDBC password
        tmp.write_text(json.dumps(canonical_node_ids(json.loads(tmp.read_text())), indent=2))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def execute_plan(env: TableEnvironment, path: Path) -> TableResult:
    """Submit the plan file; Flink's TableResult (its job client has the job id)."""
    return env.execute_sql(f"EXECUTE PLAN {_quoted(path)}")
