"""BI marts built by dbt (schema `marts`): daily KPIs, content per hour/day, regional trends, CDN SLA, revenue.

The marts are rebuilt by dbt on a schedule; until a mart exists in the database the endpoint answers 503.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from api.deps import DbConn, ReadKey
from api.errors import invalid, responses
from api.params import Cursor, Limit, after_cursor, day_range, page

router = APIRouter(prefix="/marts", tags=["marts"])


class Mart(str, Enum):
    daily_kpis = "daily-kpis"
    content_daily = "content-daily"
    content_hourly = "content-hourly"
    regional_trend_daily = "regional-trend-daily"
    cdn_sla_daily = "cdn-sla-daily"
    revenue_daily = "revenue-daily"
    new_release_hourly = "new-release-hourly"


# table, time column, unique key (the keyset order); the grain each dbt model declares.
MARTS: dict[Mart, tuple[str, str, tuple[str, ...]]] = {
    Mart.daily_kpis: ("daily_kpis", "day", ("day",)),
    Mart.content_daily: ("content_daily", "day", ("day", "content_id", "region")),
    Mart.content_hourly: ("content_hourly", "hour_start", ("hour_start", "content_id", "region")),
    Mart.regional_trend_daily: ("regional_trend_daily", "day", ("day", "region", "rank_no")),
    Mart.cdn_sla_daily: ("cdn_sla_daily", "day", ("day", "cdn_node")),
    Mart.revenue_daily: ("revenue_daily", "day", ("day", "content_type", "region", "currency")),
    Mart.new_release_hourly: ("new_release_hourly", "hour_start", ("hour_start", "content_id", "region")),
}
KEY_TYPES = {"day": date, "hour_start": datetime, "rank_no": int}
FILTERS = ("region", "content_id", "cdn_node")


class MartPage(BaseModel):
    mart: Mart
    start_day: date = Field(examples=["2026-01-01"])
    end_day: date = Field(examples=["2026-01-07"])
    items: list[dict[str, Any]] = Field(
        description="Rows as dbt built them (columns documented in the dbt project), in key order.",
        examples=[[{"day": "2026-01-01", "region": "DE", "rank_no": 1, "content_id": "mov-000123", "score": 3.2}]],
    )
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


def _json(value: Any) -> Any:  # noqa: ANN401 - a cell of any column type
    if isinstance(value, Decimal):
        return float(value)
    return value


@router.get(
    "/{mart}",
    response_model=MartPage,
    summary="Rows of a BI mart",
    responses=responses(401, 403, 404, 422, 429, 503),
)
async def read_mart(
    conn: DbConn,
    _key: ReadKey,
    mart: Annotated[Mart, Path(description="Which mart.")],
    start_day: Annotated[date | None, Query(description="First UTC day (inclusive).", examples=["2026-01-01"])] = None,
    end_day: Annotated[
        date | None, Query(description="Last UTC day (inclusive); default today.", examples=["2026-01-07"])
    ] = None,  # fmt: skip
    region: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", examples=["DE"])] = None,
    content_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$", examples=["mov-000123"])] = None,
    cdn_node: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$", examples=["edge-de-fra-1"])] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MartPage:
    """Rows of one mart for the UTC days [start_day, end_day] (default: the last 7 days, at most 366), in the
    order of the mart's key, optionally filtered by region, content item or edge node. Keyset pagination.
    `503` while dbt has not built the mart in this database."""
    table, time_column, key = MARTS[mart]
    start_day, end_day = day_range(start_day, end_day, default_days=7, longest_days=366)
    where = [f"{time_column} >= %(lo)s", f"{time_column} < %(hi)s"]
    if time_column == "day":
        params: dict[str, Any] = {"lo": start_day, "hi": end_day + timedelta(days=1)}
    else:  # hourly marts: the hours of those UTC days
        params = {
            "lo": datetime.combine(start_day, datetime.min.time(), timezone.utc),
            "hi": datetime.combine(end_day + timedelta(days=1), datetime.min.time(), timezone.utc),
        }
    for name, value in (("region", region), ("content_id", content_id), ("cdn_node", cdn_node)):
        if value is not None:
            where.append(f"{name} = %({name})s")
            params[name] = value
    after, after_params = after_cursor(cursor, key, tuple(KEY_TYPES.get(k, str) for k in key))
    where.append(after)
    params |= after_params
    params["limit"] = limit + 1
    sql = f"select * from marts.{table} where {' and '.join(where)} order by {', '.join(key)} limit %(limit)s"
    try:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            rows = await cur.fetchall()
    except pg_errors.UndefinedTable:
        raise HTTPException(503, f"mart: '{mart.value}' is not built yet in this database (run dbt)",
                            headers={"Retry-After": "60"}) from None  # fmt: skip
    except pg_errors.UndefinedColumn as exc:
        column = next((f for f in FILTERS if f in params and f in str(exc)), None)
        if column:
            raise invalid(column, f"the mart '{mart.value}' has no such column") from None
        raise HTTPException(503, f"mart: '{mart.value}' does not have the expected shape yet (run dbt)",
                            headers={"Retry-After": "60"}) from None  # fmt: skip
    except pg_errors.InsufficientPrivilege:
        raise HTTPException(503, f"mart: '{mart.value}' is not readable by the API's role yet",
                            headers={"Retry-After": "60"}) from None  # fmt: skip
    items, next_cursor = page([{k: _json(v) for k, v in r.items()} for r in rows], limit, lambda r: [r[k] for k in key])
    return MartPage(mart=mart, start_day=start_day, end_day=end_day, items=items, next_cursor=next_cursor)
