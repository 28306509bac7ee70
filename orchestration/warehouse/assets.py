"""The dbt project as Dagster assets: staging, intermediate and mart models; dbt tests as asset checks."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from orchestration.resources import StreamPulseDbtResource
from orchestration.warehouse import project


class StreamPulseTranslator(DagsterDbtTranslator):
    """Models keyed by their schema (`marts/content_daily`), grouped by layer; sources keep dagster-dbt's
    default keys (`realtime/<table>`, `catalog/content`), which the streaming domain defines."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return "marts" if dbt_resource_props["schema"] == "marts" else "warehouse"
        return super().get_group_name(dbt_resource_props)


@dbt_assets(
    manifest=project.prepare(),
    project=project.dbt_project,
    dagster_dbt_translator=StreamPulseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def streampulse_dbt_models(context: AssetExecutionContext, dbt: StreamPulseDbtResource):
    """`dbt build` of the selected models: each model, then its tests (reported as asset checks) and unit tests.
    Incremental marts re-read their lookback window, so late real-time rows are picked up on the next run."""
    with dbt.exclusive():
        yield from dbt.cli(["build"], context=context).stream()
