"""A broken import or an invalid definition must fail CI: load the definitions, resolve everything."""

from dagster import AssetKey, AssetSpec

from orchestration.definitions import defs

JOBS = {"run_generator", "deploy_flink_job", "upgrade_flink_job", "flink_savepoint_and_prune", "check_realtime"}
SENSORS = {"demo_generator_alive", "flink_job_health"}
SCHEDULES = {"flink_savepoint_schedule", "check_realtime_schedule"}


def test_every_job_sensor_and_schedule_resolves_and_is_described():
    # Building the repository resolves every asset job, schedule and sensor target (a dangling name fails).
    repo = defs.get_repository_def()
    jobs = {job.name: job for job in repo.get_all_jobs()}
    assert JOBS <= set(jobs)
    for name in jobs:
        if not name.startswith("__"):
            assert jobs[name].description, f"job {name} has no description"
    assert SENSORS <= {s.name for s in repo.sensor_defs}
    for sensor in repo.sensor_defs:
        assert sensor.description, f"sensor {sensor.name} has no description"
        for target in sensor.targets:
            assert target.job_name in jobs
    assert SCHEDULES <= {s.name for s in repo.schedule_defs}
    for schedule in repo.schedule_defs:
        assert schedule.description, f"schedule {schedule.name} has no description"
        assert schedule.job_name in jobs
        assert schedule.execution_timezone == "UTC"


def _defined_keys() -> set[AssetKey]:
    """Asset keys some domain defines (not the stubs Dagster adds for undeclared upstream keys)."""
    keys: set[AssetKey] = set()
    for item in defs.assets or []:
        keys |= {item.key} if isinstance(item, AssetSpec) else set(item.keys)
    return keys


def test_asset_graph_streams_from_topic_through_flink_to_realtime_tables():
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    realtime = {AssetKey(["realtime", t]) for t in ("content_minute_stats", "trending", "dead_letters")}
    assert {AssetKey("content_events_topic"), AssetKey("flink_analytics_job")} | realtime <= keys
    assert AssetKey("content_events_topic") in graph.get(AssetKey("flink_analytics_job")).parent_keys
    for key in realtime:
        assert graph.get(key).parent_keys == {AssetKey("flink_analytics_job")}
    for key in _defined_keys():
        assert graph.get(key).description, f"asset {key.to_user_string()} has no description"


def test_asset_checks_cover_freshness_checkpoints_lag_and_dead_letters():
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert {
        ("realtime/content_minute_stats", "fresh"),
        ("realtime/trending", "fresh"),
        ("flink_analytics_job", "flink_checkpoint_recent"),
        ("flink_analytics_job", "flink_consumer_lag"),
        ("realtime/dead_letters", "dead_letters_below_threshold"),
        ("content_events_topic", "content_events_schema_registered"),
    } <= checks


def test_resources_come_from_the_settings_without_secrets():
    from streampulse.settings import get_settings

    settings = get_settings()
    resources = defs.resources
    assert resources["kafka"].bootstrap_servers == settings.bootstrap_servers
    assert resources["flink"].rest_url == settings.flink_url
    assert resources["schema_registry"].url == settings.registry_url
    password = settings.postgres_password()
    if password:
        for resource in resources.values():
            assert password not in repr(resource)


def test_demo_generator_watchdog_restarts_only_a_dead_generator():
    from orchestration.ingest.sensors import demo_generator_action

    assert [demo_generator_action(s) for s in ("EXITED", "FATAL")] == ["restart", "restart"]
    # Running, starting, retrying by supervisord itself, or stopped on purpose by an operator: leave it.
    assert {demo_generator_action(s) for s in ("RUNNING", "STARTING", "BACKOFF", "STOPPED", "STOPPING", None)} == {None}


def test_pruning_keeps_active_protected_and_recent_state(tmp_path, monkeypatch):
    """The savepoint schedule's pruning (savepoints.prune_retained_state) on a state folder of both layouts;
    the cluster's list of active jobs is the only fake."""
    import os
    import time

    from flink_jobs import savepoints as retention
    from flink_jobs.rest import FlinkRest
    from streampulse.settings import Settings

    settings = Settings(state_dir=tmp_path)
    root = tmp_path / "data" / "flink"
    old = time.time() - 48 * 3600
    ids = {name: f"{n:032x}" for n, name in enumerate(["active", "stopped", "protected", "recent", "flat"], 1)}

    def make(folder, age: float | None = old):  # noqa: ANN001
        (folder / "chk-1").mkdir(parents=True)
        (folder / "chk-1" / "_metadata").write_text("x")
        if age:
            for path in [folder, *folder.rglob("*")]:
                os.utime(path, (age, age))
        return folder

    nested = root / "checkpoints" / "streampulse-analytics"
    folders = {name: make(nested / ids[name]) for name in ("active", "stopped", "protected")}
    folders["recent"] = make(nested / ids["recent"], age=None)
    folders["flat"] = make(root / "checkpoints" / ids["flat"])  # the cluster's default layout
    savepoints = [make(root / "savepoints" / f"savepoint-{n}", age=old - n) for n in range(4)]

    monkeypatch.setattr(FlinkRest, "jobs", lambda self: [{"jid": ids["active"], "name": "x", "state": "RUNNING"}])
    protect = frozenset({(folders["protected"] / "chk-1").as_uri()})
    removed = retention.prune_retained_state(settings, max_age_s=24 * 3600, keep_savepoints=2, protect=protect)
    assert set(removed) == {folders["stopped"], folders["flat"], savepoints[2], savepoints[3]}
    assert all(not p.exists() for p in removed)
    assert folders["active"].exists() and folders["protected"].exists() and folders["recent"].exists()
    assert savepoints[0].exists() and savepoints[1].exists()
