"""A broken import or an invalid definition must fail CI: load the definitions, resolve everything."""

from dagster import AssetKey

from orchestration.definitions import defs

JOBS = {"run_generator", "deploy_flink_job", "upgrade_flink_job", "flink_savepoint_and_prune", "check_realtime"}
SENSORS = {"demo_generator_alive", "flink_job_health"}
SCHEDULES = {"flink_savepoint_schedule", "check_realtime_schedule"}


def test_every_job_sensor_and_schedule_resolves_and_is_described():
    jobs = {job.name: job for job in defs.resolve_all_job_defs()}
    assert JOBS <= set(jobs)
    for name in JOBS:
        assert jobs[name].description, f"job {name} has no description"
    sensors = {s.name: s for s in defs.sensors}
    assert SENSORS <= set(sensors)
    for sensor in defs.sensors:
        assert sensor.description, f"sensor {sensor.name} has no description"
        # Resolving a sensor's target job fails if it points at a job that does not exist.
        for target in sensor.targets:
            assert defs.resolve_job_def(target.job_name)
    schedules = {s.name: s for s in defs.schedules}
    assert SCHEDULES <= set(schedules)
    for schedule in defs.schedules:
        assert schedule.description, f"schedule {schedule.name} has no description"
        assert defs.resolve_job_def(schedule.job_name)
        assert schedule.execution_timezone == "UTC"


def test_asset_graph_streams_from_topic_through_flink_to_realtime_tables():
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    realtime = {AssetKey(["realtime", t]) for t in ("content_minute_stats", "trending", "dead_letters")}
    assert {AssetKey("content_events_topic"), AssetKey("flink_analytics_job")} | realtime <= keys
    assert AssetKey("content_events_topic") in graph.get(AssetKey("flink_analytics_job")).parent_keys
    for key in realtime:
        assert graph.get(key).parent_keys == {AssetKey("flink_analytics_job")}
    for key in keys:
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
