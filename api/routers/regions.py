"""Regions overview: demand, revenue and CDN health per region over a time range."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import DbConn, ReadKey
from api.errors import responses
from api.params import End, Start, time_range

router = APIRouter(prefix="/regions", tags=["regions"])


class RegionOverview(BaseModel):
    region: str = Field(examples=["DE"])
    events: int = Field(ge=0, examples=[15000])
    downloads_started: int = Field(ge=0, examples=[4000])
    downloads_completed: int = Field(ge=0, examples=[3700])
    downloads_failed: int = Field(ge=0, examples=[120])
    streams_started: int = Field(ge=0, examples=[6000])
    purchases: int = Field(ge=0, examples=[300])
    revenue_minor: int = Field(ge=0, description="Revenue in minor units of `currency`.", examples=[149700])
    currency: str | None = Field(None, description="The region's currency; null without purchases.", examples=["EUR"])
    active_content: int = Field(ge=0, description="Distinct items with at least one event.", examples=[850])
    cdn_requests: int = Field(ge=0, description="Downloads and stream starts served by the region's edge nodes.",
                              examples=[9800])  # fmt: skip
    cdn_errors: int = Field(ge=0, examples=[45])
    cdn_error_rate: float | None = Field(None, ge=0, le=1, examples=[0.0046])
    open_anomalies: int = Field(ge=0, description="CDN anomalies of the region open now.", examples=[0])


class RegionsOverview(BaseModel):
    start: datetime = Field(examples=["2026-01-01T00:00:00Z"])
    end: datetime = Field(examples=["2026-01-01T01:00:00Z"])
    regions: list[RegionOverview] = Field(description="Regions with activity in the range, by code.")


REGIONS_SQL = """
    with demand as (
        select region, sum(events)::bigint events, sum(downloads_started)::bigint ds,
               sum(downloads_completed)::bigint dc, sum(downloads_failed)::bigint df,
               sum(streams_started)::bigint ss, sum(purchases)::bigint p, sum(revenue_minor)::bigint rev,
               max(currency) currency, count(distinct content_id) active
        from realtime.content_region_minute_stats
        where window_start >= %(start)s and window_start < %(end)s
        group by region
    ), cdn as (
        select region, sum(requests)::bigint requests, sum(errors)::bigint errors
        from realtime.cdn_node_minute_stats
        where window_start >= %(start)s and window_start < %(end)s
        group by region
    ), open as (
        select region, count(*) n from realtime.cdn_anomalies where state = 'OPEN' group by region
    )
    select coalesce(d.region, c.region) region, coalesce(d.events, 0), coalesce(d.ds, 0), coalesce(d.dc, 0),
           coalesce(d.df, 0), coalesce(d.ss, 0), coalesce(d.p, 0), coalesce(d.rev, 0), d.currency,
           coalesce(d.active, 0), coalesce(c.requests, 0), coalesce(c.errors, 0),
           c.errors::float8 / nullif(c.requests, 0), coalesce(o.n, 0)
    from demand d full join cdn c using (region) left join open o on o.region = coalesce(d.region, c.region)
    order by 1
"""
_FIELDS = list(RegionOverview.model_fields)


@router.get("", response_model=RegionsOverview, summary="Regions overview", responses=responses(401, 403, 422, 429))
async def regions(conn: DbConn, _key: ReadKey, start: Start = None, end: End = None) -> RegionsOverview:
    """Per region over [start, end) (default: the last hour, at most 31 days): events, downloads, streams,
    purchases and revenue, active items, CDN requests and error rate, and how many CDN anomalies are open."""
    start, end = time_range(start, end, default=timedelta(hours=1), longest=timedelta(days=31))
    cur = await conn.execute(REGIONS_SQL, {"start": start, "end": end})
    rows = await cur.fetchall()
    return RegionsOverview(
        start=start, end=end, regions=[RegionOverview(**dict(zip(_FIELDS, r, strict=True))) for r in rows]
    )
