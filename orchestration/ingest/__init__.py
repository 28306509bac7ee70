"""Ingest domain: the events topic, the generator as a Dagster job, and the demo generator's watchdog."""

from dagster import Definitions

from orchestration.ingest.assets import content_events_schema_registered, content_events_topic
from orchestration.ingest.generator import generator_job
from orchestration.ingest.sensors import demo_generator_alive

defs = Definitions(
    assets=[content_events_topic],
    asset_checks=[content_events_schema_registered],
    jobs=[generator_job],
    sensors=[demo_generator_alive],
)
