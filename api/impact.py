"""What a CDN anomaly hit: the one definition of its drill-down, read by the API and the dashboard.

`GET /v1/anomalies/{id}/impact` and the dashboard's CDN page both run these statements (each on its own
connection) and summarise with `phases`, so the two can never disagree. The minutes of an anomaly are
[started_at, ended_at), or up to the newest minute of its nodes while it is open; "before" and "after" are
the `context` minutes either side. Nodes serve only their own region, so the region hit is the node's (for
REGIONAL_OUTAGE, the region and every node in it). The real-time tables count titles per region, not per
node: the titles are those of that region in the anomaly's minutes, most failed downloads first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

REGIONAL = "REGIONAL_OUTAGE"
OPEN_END = datetime(9000, 1, 1, tzinfo=timezone.utc)  # an open anomaly's minutes run on: no upper bound

# The minutes of the anomaly's node(s) from `from` to `to`; `regional` selects every node of the region.
NODE_MINUTES_SQL = """
    select cdn_node, window_start, window_end, requests, errors, ttfb_p95_ms, throughput_avg_kbps
    from realtime.cdn_node_minute_stats
    where (cdn_node = %(subject)s or (%(regional)s and region = %(region)s))
      and window_start >= %(from)s and window_start < %(to)s
    order by window_start, cdn_node
"""

# The region's totals over the anomaly's minutes, across every title.
REGION_TOTALS_SQL = """
    select count(distinct content_id) as titles, coalesce(sum(events), 0)::bigint as events,
           coalesce(sum(downloads_failed), 0)::bigint as downloads_failed
    from realtime.content_region_minute_stats
    where region = %(region)s and window_start >= %(start)s and window_start < %(end)s
"""

# The region's titles over the anomaly's minutes: most failed downloads first, then most events.
TITLES_SQL = """
    select s.content_id, c.title, c.content_type, sum(s.events)::bigint as events,
           sum(s.downloads_started)::bigint as downloads_started,
           sum(s.downloads_completed)::bigint as downloads_completed,
           sum(s.downloads_failed)::bigint as downloads_failed, sum(s.streams_started)::bigint as streams_started
    from realtime.content_region_minute_stats s
    left join catalog.content c using (content_id)
    where s.region = %(region)s and s.window_start >= %(start)s and s.window_start < %(end)s
    group by s.content_id, c.title, c.content_type
    order by sum(s.downloads_failed) desc, sum(s.events) desc, s.content_id
    limit %(limit)s
"""


@dataclass(frozen=True)
class NodeMinute:
    cdn_node: str
    window_start: datetime
    window_end: datetime
    requests: int
    errors: int
    ttfb_p95_ms: float | None
    throughput_avg_kbps: float | None


@dataclass(frozen=True)
class Phase:
    """A node's (or region's nodes') figures over a span of minutes."""

    name: str  # before, during, after
    start: datetime
    end: datetime
    minutes: int  # node-minutes with traffic
    requests: int
    errors: int
    error_rate: float | None  # errors / requests; None without requests
    worst_ttfb_p95_ms: float | None  # the worst minute's p95
    mean_throughput_kbps: float | None  # mean of the minutes' averages


def query_params(
    kind: str, subject: str, region: str, started_at: datetime, ended_at: datetime | None, context: timedelta
) -> dict:
    """Parameters of NODE_MINUTES_SQL: from `context` before the start to `context` after the end (while
    open, every newer minute)."""
    to = ended_at + context if ended_at is not None else OPEN_END
    return {"subject": subject, "regional": kind == REGIONAL, "region": region, "from": started_at - context,
            "to": to}  # fmt: skip


def during_end(started_at: datetime, ended_at: datetime | None, minutes: Iterable[NodeMinute]) -> datetime:
    """End of the anomaly's minutes: its end, or while open the end of its nodes' newest minute."""
    if ended_at is not None:
        return ended_at
    ends = [m.window_end for m in minutes if m.window_start >= started_at]
    return max(ends, default=started_at)


def phases(
    minutes: Sequence[NodeMinute], started_at: datetime, ended_at: datetime | None, context: timedelta
) -> list[Phase]:
    """Before, during and after (after only once resolved), each summarised over its node-minutes."""
    end = during_end(started_at, ended_at, minutes)
    spans = [("before", started_at - context, started_at), ("during", started_at, end)]
    if ended_at is not None:
        spans.append(("after", ended_at, ended_at + context))
    return [_summary(name, a, b, [m for m in minutes if a <= m.window_start < b]) for name, a, b in spans]


def _summary(name: str, start: datetime, end: datetime, rows: list[NodeMinute]) -> Phase:
    requests, errors = sum(m.requests for m in rows), sum(m.errors for m in rows)
    p95 = [m.ttfb_p95_ms for m in rows if m.ttfb_p95_ms is not None]
    kbps = [m.throughput_avg_kbps for m in rows if m.throughput_avg_kbps is not None]
    return Phase(
        name=name, start=start, end=end, minutes=len(rows), requests=requests, errors=errors,
        error_rate=errors / requests if requests else None, worst_ttfb_p95_ms=max(p95, default=None),
        mean_throughput_kbps=sum(kbps) / len(kbps) if kbps else None,
    )  # fmt: skip
