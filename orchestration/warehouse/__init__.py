"""Warehouse domain: the dbt project (dbt_project/) as assets, its tests as asset checks, an hourly build."""

from dagster import Definitions

defs = Definitions()
