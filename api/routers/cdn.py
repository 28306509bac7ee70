"""CDN health per edge node, minute by minute, from the Flink job's per-node windows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field

from api.deps import DbConn, ReadKey
from api.errors import responses
from api.params import End, Start, time_range

router = APIRouter(prefix="/cdn", tags=["cdn"])


class NodeSummary(BaseModel):
    cdn_node: str = Field(examples=["edge-de-fra-1"])
    region: str = Field(examples=["DE"])
    requests: int = Field(ge=0, examples=[5400])
    errors: int = Field(ge=0, examples=[12])
    error_rate: float | None = Field(None, ge=0, le=1, examples=[0.0022])
    worst_ttfb_p95_ms: float | None = Field(None, description="Highest per-minute p95 in the range.", examples=[310.0])
    bytes_sent: int = Field(ge=0, examples=[987654321])
    open_anomalies: int = Field(ge=0, examples=[0])


class NodesHealth(BaseModel):
    start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    end: datetime = Field(examples=["2026-01-01T01:00:00Z"])
    nodes: list[NodeSummary]


class NodeMinute(BaseModel):
    window_start: datetime = Field(examples=["2026-01-01T00:03:00Z"])
    window_end: datetime = Field(examples=["2026-01-01T00:04:00Z"])
    requests: int = Field(ge=0, description="Download completions/failures and stream starts.", examples=[92])
    errors: int = Field(ge=0, examples=[60])
    error_rate: float = Field(ge=0, le=1, examples=[0.652])
    ttfb_p50_ms: float | None = Field(None, examples=[95.0])
    ttfb_p95_ms: float | None = Field(None, examples=[240.0])
    throughput_avg_kbps: float | None = Field(None, examples=[18000.5])
    bytes_sent: int = Field(ge=0, examples=[123456789])


class NodeHealth(BaseModel):
    cdn_node: str = Field(examples=["edge-de-fra-1"])
    region: str | None = Field(None, examples=["DE"])
    start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    end: datetime = Field(examples=["2026-01-01T01:00:00Z"])
    minutes: list[NodeMinute] = Field(description="Minutes with traffic, oldest first.")


NODES_SQL = """
    with open as (
        select subject, count(*) n from realtime.cdn_anomalies
        where state = 'OPEN' and anomaly_kind <> 'REGIONAL_OUTAGE' group by subject
    )
    select cdn_node, max(region), sum(requests)::bigint, sum(errors)::bigint,
           sum(errors)::float8 / nullif(sum(requests), 0), max(ttfb_p95_ms), sum(bytes_sent)::bigint,
           coalesce(max(o.n), 0)
    from realtime.cdn_node_minute_stats left join open o on o.subject = cdn_node
    where window_start >= %(start)s and window_start < %(end)s
    group by cdn_node
    order by cdn_node
"""
NODE_SQL = """
    select window_start, window_end, requests, errors, error_rate, ttfb_p50_ms, ttfb_p95_ms, throughput_avg_kbps,
           bytes_sent, region
    from realtime.cdn_node_minute_stats
    where cdn_node = %(node)s and window_start >= %(start)s and window_start < %(end)s
    order by window_start
"""
NODE_REGION_SQL = "select region from realtime.cdn_node_minute_stats where cdn_node = %(node)s limit 1"
_NODE_FIELDS = list(NodeSummary.model_fields)
_MINUTE_FIELDS = list(NodeMinute.model_fields)


@router.get("/nodes", response_model=NodesHealth, summary="Health of every edge node",
            responses=responses(401, 403, 422, 429))  # fmt: skip
async def nodes(conn: DbConn, _key: ReadKey, start: Start = None, end: End = None) -> NodesHealth:
    """Per edge node over [start, end) (default: the last hour, at most 31 days): requests, errors, error
    rate, worst minute p95 time to first byte, bytes, and open anomalies."""
    start, end = time_range(start, end, default=timedelta(hours=1), longest=timedelta(days=31))
    cur = await conn.execute(NODES_SQL, {"start": start, "end": end})
    rows = await cur.fetchall()
    return NodesHealth(
        start=start, end=end, nodes=[NodeSummary(**dict(zip(_NODE_FIELDS, r, strict=True))) for r in rows]
    )


@router.get("/nodes/{cdn_node}/health", response_model=NodeHealth, summary="Minute health of one edge node",
            responses=responses(401, 403, 404, 422, 429))  # fmt: skip
async def node_health(
    conn: DbConn,
    _key: ReadKey,
    cdn_node: Annotated[
        str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["edge-de-fra-1"])
    ],  # fmt: skip
    start: Start = None,
    end: End = None,
) -> NodeHealth:
    """One node's minutes in [start, end) (default: the last hour, at most 7 days). `404` for a node that
    never served traffic."""
    start, end = time_range(start, end, default=timedelta(hours=1), longest=timedelta(days=7))
    cur = await conn.execute(NODE_SQL, {"node": cdn_node, "start": start, "end": end})
    rows = await cur.fetchall()
    if rows:
        region = rows[0][-1]
    else:
        cur = await conn.execute(NODE_REGION_SQL, {"node": cdn_node})
        found = await cur.fetchone()
        if found is None:
            raise HTTPException(404, f"cdn_node: no edge node '{cdn_node}'")
        region = found[0]
    return NodeHealth(
        cdn_node=cdn_node,
        region=region,
        start=start,
        end=end,
        minutes=[NodeMinute(**dict(zip(_MINUTE_FIELDS, r[:-1], strict=True))) for r in rows],
    )
