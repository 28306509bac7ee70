"""A broken import or an invalid definition must fail CI."""

from orchestration.definitions import defs


def test_definitions_load_and_every_job_resolves():
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert "deploy_flink_job" in jobs
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"content_events_topic", "flink_analytics_job", "content_minute_stats"} <= keys
    for asset_key in defs.resolve_asset_graph().get_all_asset_keys():
        assert defs.resolve_asset_graph().get(asset_key).description, f"{asset_key} has no description"
