"""An anomaly's drill-down: the regions and titles it hit, and its node's figures before, during and after."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api import impact
from api.deps import DbConn, ReadKey
from api.errors import responses
from api.routers.anomalies import Anomaly, AnomalyId, _get

router = APIRouter(prefix="/anomalies", tags=["anomalies"])

Count = Annotated[int, Field(ge=0)]
Rate = Annotated[float | None, Field(ge=0, le=1, description="errors / requests; null without requests.")]
Ms = Annotated[float | None, Field(ge=0)]


class Span(BaseModel):
    start: datetime = Field(description="Inclusive.", examples=["2026-01-01T00:03:00Z"])
    end: datetime = Field(description="Exclusive.", examples=["2026-01-01T00:08:00Z"])


class NodeFigures(Span):
    phase: Literal["before", "during", "after"]
    minutes: Count = Field(description="Node-minutes with traffic in the span.", examples=[5])
    requests: Count = Field(examples=[2150])
    errors: Count = Field(examples=[1302])
    error_rate: Rate = Field(examples=[0.6056])
    worst_ttfb_p95_ms: Ms = Field(None, description="The worst minute's p95 time to first byte.", examples=[188.0])
    mean_throughput_kbps: Ms = Field(None, description="Mean of the minutes' average throughput.", examples=[51234.5])


class NodeMinute(BaseModel):
    cdn_node: str = Field(examples=["edge-de-fra-1"])
    window_start: datetime = Field(examples=["2026-01-01T00:03:00Z"])
    phase: Literal["before", "during", "after"]
    requests: Count = Field(examples=[430])
    errors: Count = Field(examples=[260])
    error_rate: Rate = Field(examples=[0.6047])
    ttfb_p95_ms: Ms = Field(None, examples=[181.5])
    throughput_avg_kbps: Ms = Field(None, examples=[50210.0])


class RegionHit(BaseModel):
    region: str = Field(pattern=r"^[A-Z]{2}$", examples=["DE"])
    nodes: list[str] = Field(description="The anomaly's nodes in the region.", examples=[["edge-de-fra-1"]])
    requests: Count = Field(description="On those nodes during the anomaly.", examples=[2150])
    errors: Count = Field(examples=[1302])
    error_rate: Rate = Field(examples=[0.6056])
    titles: Count = Field(description="Titles with events in the region during the anomaly.", examples=[812])
    events: Count = Field(description="Events in the region during the anomaly (every node).", examples=[9120])
    downloads_failed: Count = Field(examples=[410])


class TitleHit(BaseModel):
    content_id: str = Field(examples=["mov-00042"])
    title: str | None = Field(None, description="From the catalog; null for an id it does not know.")
    content_type: str | None = Field(None, examples=["MOVIE"])
    events: Count = Field(examples=[120])
    downloads_started: Count = Field(examples=[14])
    downloads_completed: Count = Field(examples=[5])
    downloads_failed: Count = Field(examples=[8])
    streams_started: Count = Field(examples=[60])


class AnomalyImpact(BaseModel):
    anomaly: Anomaly
    context_minutes: int = Field(ge=1, le=120, description="Minutes shown before and after.", examples=[15])
    during: Span = Field(description="The anomaly's minutes (while open: up to its nodes' newest minute).")
    regions: list[RegionHit] = Field(description="The region hit (nodes serve only their own region).")
    titles: list[TitleHit] = Field(
        description="The region's titles during the anomaly, most failed downloads first, then most events. "
        "Per region: the real-time tables do not split titles by node."
    )
    node_figures: list[NodeFigures] = Field(description="before, during and (once resolved) after, in order.")
    minutes: list[NodeMinute] = Field(description="Every node-minute of the three spans, oldest first.")


@router.get(
    "/{anomaly_id}/impact",
    response_model=AnomalyImpact,
    summary="What a CDN anomaly hit",
    responses=responses(401, 403, 404, 422, 429),
)
async def anomaly_impact(
    conn: DbConn,
    _key: ReadKey,
    anomaly_id: AnomalyId,
    context_minutes: Annotated[int, Query(ge=1, le=120, description="Minutes before and after (1-120).")] = 15,
    titles: Annotated[int, Query(ge=1, le=100, description="How many titles (1-100).")] = 10,
) -> AnomalyImpact:
    """The drill-down of one anomaly: the region and titles affected during its minutes, and its node's
    (for REGIONAL_OUTAGE: the region's nodes') figures before, during and after, in total and per minute."""
    anomaly = await _get(conn, anomaly_id)
    context = timedelta(minutes=context_minutes)
    params = impact.query_params(anomaly.anomaly_kind, anomaly.subject, anomaly.region, anomaly.started_at,
                                 anomaly.ended_at, context)  # fmt: skip
    cur = await conn.execute(impact.NODE_MINUTES_SQL, params)
    minutes = [impact.NodeMinute(*row) for row in await cur.fetchall()]
    spans = impact.phases(minutes, anomaly.started_at, anomaly.ended_at, context)
    during = spans[1]
    window = {"region": anomaly.region, "start": during.start, "end": during.end}
    cur = await conn.execute(impact.REGION_TOTALS_SQL, window)
    region_titles, region_events, region_failed = await cur.fetchone() or (0, 0, 0)
    cur = await conn.execute(impact.TITLES_SQL, window | {"limit": titles})
    title_rows = await cur.fetchall()

    def phase_of(start: datetime) -> str:
        return next(p.name for p in spans if p.start <= start < p.end)

    during_nodes = sorted({m.cdn_node for m in minutes if during.start <= m.window_start < during.end})
    hit = {"requests": during.requests, "errors": during.errors, "error_rate": during.error_rate}
    region = RegionHit(region=anomaly.region, nodes=during_nodes, titles=region_titles, events=region_events,
                       downloads_failed=region_failed, **hit)  # fmt: skip
    return AnomalyImpact(
        anomaly=anomaly,
        context_minutes=context_minutes,
        during=Span(start=during.start, end=during.end),
        regions=[region],
        titles=[TitleHit(**dict(zip(TitleHit.model_fields, row, strict=True))) for row in title_rows],
        node_figures=[NodeFigures(phase=p.name, **{k: v for k, v in asdict(p).items() if k != "name"}) for p in spans],
        minutes=[
            NodeMinute(
                phase=phase_of(m.window_start),
                error_rate=m.errors / m.requests if m.requests else None,
                **{k: v for k, v in asdict(m).items() if k != "window_end"},
            )
            for m in minutes
            if spans[0].start <= m.window_start < spans[-1].end
        ],
    )
