"""Compiled plans (flink_jobs/plans.py): what is cached under which key, which statements run before
`EXECUTE PLAN`, and that the operator uids a plan gives are reproducible, which is what lets a checkpoint
of one submission restore into the next. The last two tests compile in a local TableEnvironment (Java)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flink_jobs import plans, runner
from streampulse.settings import Settings
from tests.flink_local import job_table_env

SETTINGS = Settings(database_url="postgresql://u:p@db.example:5432/sp")  # placeholders only, never connected
CONFIG = {"rest.port": "8081", "parallelism.default": "1", "table.local-time-zone": "UTC"}


def statements(**overrides: str) -> list[str]:
    return runner.render_statements({**runner.placeholders(SETTINGS, "events", None, "job"), **overrides})


def test_the_job_is_one_statement_and_the_plan_carries_every_table_and_view():
    rendered = statements()
    jobs = [s for s in rendered if plans.is_job(s)]
    assert len(jobs) == 1 and jobs[0] == rendered[-1]
    assert plans.compile_statement(jobs[0]).upper().startswith(("STATEMENT SET", "INSERT"))
    run_before_execute = [s for s in rendered if not plans.is_job(s) and not plans.carried_by_plan(s)]
    # Temporary functions are referred to by name in the plan: they must run before EXECUTE PLAN.
    assert run_before_execute and all("FUNCTION" in s.upper() for s in run_before_execute), run_before_execute
    assert plans.carried_by_plan("CREATE TEMPORARY VIEW v AS SELECT 1")
    assert plans.carried_by_plan("create or replace temporary view v as select 1")
    assert plans.carried_by_plan("ALTER TABLE t SET ('a' = 'b')")
    assert not plans.carried_by_plan("CREATE TEMPORARY SYSTEM FUNCTION f AS 'x' LANGUAGE JAVA")
    assert not plans.is_job("CREATE TABLE inserts (x INT)")


def test_the_key_follows_the_statements_the_planning_options_and_the_jars(tmp_path):
    jar = tmp_path / "f.jar"
    jar.write_bytes(b"x")
    key = plans.plan_key(statements(), CONFIG, [jar])
    assert plans.plan_key(statements(), CONFIG, [jar]) == key
    assert plans.plan_key(statements(), {**CONFIG, "rest.port": "18081"}, [jar]) == key  # where, not what
    assert plans.plan_key(statements(trending_top_n="11"), CONFIG, [jar]) != key
    assert plans.plan_key(statements(), {**CONFIG, "parallelism.default": "2"}, [jar]) != key
    os.utime(jar, ns=(1, 1))
    assert plans.plan_key(statements(), CONFIG, [jar]) != key
    assert plans.plan_path(SETTINGS, "abc", key).name == f"abc-{key}.json"


def test_node_ids_are_renumbered_in_file_order_with_their_edges():
    plan = {"flinkVersion": "2.0", "nodes": [{"id": 7}, {"id": 9}, {"id": 8}],
            "edges": [{"source": 7, "target": 9}, {"source": 9, "target": 8}]}  # fmt: skip
    canonical = plans.canonical_node_ids(plan)
    assert [n["id"] for n in canonical["nodes"]] == [1, 2, 3]
    assert canonical["edges"] == [{"source": 1, "target": 2}, {"source": 2, "target": 3}]
    fresh = {"nodes": [{"id": 1}, {"id": 2}], "edges": [{"source": 1, "target": 2}]}
    assert plans.canonical_node_ids(fresh) == fresh  # a fresh JVM numbers them so already


@pytest.fixture(scope="module")
def flink_env():  # noqa: ANN201 - a PyFlink TableEnvironment
    return job_table_env(SETTINGS)


def uids(env, path: Path) -> dict[str, str]:  # noqa: ANN001
    """Every transformation the plan translates to: name -> uid (what Flink maps checkpointed state by)."""
    from pyflink.java_gateway import get_gateway

    reference = get_gateway().jvm.org.apache.flink.table.api.PlanReference.fromFile(str(path))
    translated = env._j_tenv.getPlanner().translatePlan(env._j_tenv.loadPlan(reference).unwrap())
    found = {}
    for sink in translated:
        for t in sink.getTransitivePredecessors():
            found[f"{t.getId()}:{t.getName()}"] = t.getUid()
    return found


@pytest.mark.flinksql
def test_the_job_compiles_to_a_plan_that_names_every_operator(flink_env, tmp_path):
    """The whole job (MATCH_RECOGNIZE, window aggregates and Top-N, OVER aggregate, UNNEST, Kafka, JDBC, the
    Java functions) compiles, and every operator that can hold state gets a uid from the plan."""
    rendered = statements()
    for statement in rendered:
        if not plans.is_job(statement):
            runner.execute(flink_env, statement)
    path = tmp_path / "job.json"
    plans.compile_plan(flink_env, rendered[-1], path)
    assert path.stat().st_mode & 0o077 == 0  # it holds the JDBC password
    plan = json.loads(path.read_text())
    assert [n["id"] for n in plan["nodes"]] == list(range(1, len(plan["nodes"]) + 1))
    kinds = {n["type"].rsplit("_", 1)[0].removeprefix("stream-exec-") for n in plan["nodes"]}
    expected = {"match", "window-aggregate", "over-aggregate", "correlate"}
    assert expected <= kinds
    named = uids(flink_env, path)
    without = sorted(name for name, uid in named.items() if uid is None and not name.split(":", 1)[1] == "Union")
    assert not without, without  # a union has no operator (and no state)


@pytest.mark.flinksql
def test_compiling_again_in_the_same_jvm_gives_the_same_plan_and_uids(flink_env, tmp_path):
    """Flink's node counter keeps running in a JVM: the second compilation's raw ids differ, the file not."""
    flink_env.execute_sql("CREATE TEMPORARY TABLE src (k STRING, v INT) WITH ('connector' = 'datagen')")
    flink_env.execute_sql("CREATE TEMPORARY TABLE dst (k STRING, n BIGINT) WITH ('connector' = 'blackhole')")
    job = "EXECUTE STATEMENT SET BEGIN INSERT INTO dst SELECT k, COUNT(*) FROM src GROUP BY k; END"
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    plans.compile_plan(flink_env, job, first)
    plans.compile_plan(flink_env, job, second)
    assert first.read_text() == second.read_text()
    assert json.loads(first.read_text())["nodes"][0]["id"] == 1
    assert uids(flink_env, first) and set(uids(flink_env, first).values()) == set(uids(flink_env, second).values())
