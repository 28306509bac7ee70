"""Everything Dagster shows, gathered from the domain packages (thin on purpose).

Each domain (ingest, streaming, warehouse, reports, notifications) exports one `defs`; the shared resources are
declared once, here, from orchestration/resources.py.
"""

from dagster import Definitions

from orchestration import ingest, notifications, reports, streaming, warehouse
from orchestration.resources import platform_resources

defs = Definitions.merge(
    ingest.defs,
    streaming.defs,
    warehouse.defs,
    reports.defs,
    notifications.defs,
    Definitions(resources=platform_resources()),
)
