"""Reports domain: the daily BI report rendered from the marts, and its schedule."""

from dagster import Definitions

defs = Definitions()
