"""Everything Dagster shows, gathered from the domain modules (thin on purpose)."""

from dagster import Definitions, define_asset_job

from orchestration.resources import FlinkResource, PlatformSettings, PostgresResource
from orchestration.streaming import assets as streaming
from streampulse.settings import get_settings

deploy_flink_job = define_asset_job(
    "deploy_flink_job",
    selection=[streaming.flink_analytics_job],
    description="Make sure the Flink analytics job runs (submit it from the newest checkpoint if it does not).",
)

defs = Definitions(
    assets=[streaming.content_events_topic, streaming.flink_analytics_job, streaming.content_minute_stats],
    asset_checks=[streaming.content_minute_stats_fresh],
    jobs=[deploy_flink_job],
    resources={
        "platform": PlatformSettings(),
        "flink": FlinkResource(rest_url=get_settings().flink_url),
        "postgres": PostgresResource(),
    },
)
