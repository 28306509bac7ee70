"""BI marts built by dbt (schema `marts`): daily KPIs, content per hour/day, regional trends, CDN SLA, revenue.

The marts are rebuilt by dbt on a schedule; until a mart exists in the database the endpoint answers 503.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from psycopg import AsyncConnection
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from api.deps import DbConn, ReadKey
from api.errors import responses
from api.params import Day, Limit, after_cursor, cursor_query, day_range, page

router = APIRouter(prefix="/marts", tags=["marts"])


class Mart(str, Enum):
    daily_kpis = "daily-kpis"
    content_daily = "content-daily"
    content_hourly = "content-hourly"
    regional_trend_daily = "regional-trend-daily"
    cdn_sla_daily = "cdn-sla-daily"
    revenue_daily = "revenue-daily"
    new_release_hourly = "new-release-hourly"


# table, time column, unique key (the keyset order: the primary key each dbt contract declares, time first),
# and the columns a request may filter on (those the mart has).
MARTS: dict[Mart, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    Mart.daily_kpis: ("daily_kpis", "day", ("day",), ()),
    Mart.content_daily: ("content_daily", "day", ("day", "content_id", "region"), ("region", "content_id")),
    Mart.content_hourly: (
        "content_hourly",
        "hour_start",
        ("hour_start", "content_id", "region"),
        ("region", "content_id"),
    ),  # fmt: skip
    Mart.regional_trend_daily: ("regional_trend_daily", "day", ("day", "region", "rank_no"), ("region", "content_id")),
    Mart.cdn_sla_daily: ("cdn_sla_daily", "day", ("day", "cdn_node"), ("region", "cdn_node")),
    Mart.revenue_daily: ("revenue_daily", "day", ("day", "content_type", "region", "currency"), ("region",)),
    Mart.new_release_hourly: ("new_release_hourly", "hour_start", ("hour_start", "content_id"), ("content_id",)),
}
KEY_TYPES = {"day": date, "hour_start": datetime, "rank_no": int}
FILTERS = {
    "region": (r"^[A-Z]{2}$", "Only this region.", "DE"),
    "content_id": (r"^[A-Za-z0-9_.-]{1,64}$", "Only this content item.", "mov-000123"),
    "cdn_node": (r"^[A-Za-z0-9_.-]{1,64}$", "Only this edge node.", "edge-de-fra-1"),
}


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


def _not_ready(mart: Mart, why: str) -> HTTPException:
    return HTTPException(503, f"mart: '{mart.value}' {why}", headers={"Retry-After": "60"})


async def read_mart(
    conn: AsyncConnection, mart: Mart, start_day: date | None, end_day: date | None, filters: dict[str, str | None],
    limit: int, cursor: str | None,
) -> MartPage:  # fmt: skip
    """One page of a mart for the UTC days [start_day, end_day]; 503 while dbt has not built it."""
    table, time_column, key, _ = MARTS[mart]
    start_day, end_day = day_range(start_day, end_day, default_days=7, longest_days=366)
    where = [f"{time_column} >= %(lo)s", f"{time_column} < %(hi)s"]
    if time_column == "day":
        params: dict[str, Any] = {"lo": start_day, "hi": end_day + timedelta(days=1)}
    else:  # hourly marts: the hours of those UTC days
        params = {
            "lo": datetime.combine(start_day, datetime.min.time(), timezone.utc),
            "hi": datetime.combine(end_day + timedelta(days=1), datetime.min.time(), timezone.utc),
        }
    for name, value in filters.items():
        if value is not None:
            where.append(f"{name} = %({name})s")
            params[name] = value
    after, after_params = after_cursor(cursor, list(key), tuple(KEY_TYPES.get(k, str) for k in key))
    where.append(after)
    params |= after_params
    params["limit"] = limit + 1
    sql = f"select * from marts.{table} where {' and '.join(where)} order by {', '.join(key)} limit %(limit)s"
    try:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            rows = await cur.fetchall()
    except pg_errors.UndefinedTable:
        raise _not_ready(mart, "is not built yet in this database (run dbt)") from None
    except pg_errors.UndefinedColumn:
        raise _not_ready(mart, "does not have the expected shape yet (run dbt)") from None
    except pg_errors.InsufficientPrivilege:
        raise _not_ready(mart, "is not readable by the API's role yet") from None
    items, next_cursor = page([{k: _json(v) for k, v in r.items()} for r in rows], limit, lambda r: [r[k] for k in key])
    return MartPage(mart=mart, start_day=start_day, end_day=end_day, items=items, next_cursor=next_cursor)


def _route(mart: Mart) -> Callable[..., Coroutine[Any, Any, MartPage]]:
    """The handler of one mart: its own filters and cursor shape, so the OpenAPI states exactly what it accepts."""
    _, _, key, filters = MARTS[mart]
    kinds = tuple(KEY_TYPES.get(k, str) for k in key)

    async def handler(conn: DbConn, _key: ReadKey, start_day: StartDay = None, end_day: EndDay = None,
                      limit: Limit = 100, cursor: str | None = None, **chosen: str | None) -> MartPage:  # fmt: skip
        return await read_mart(conn, mart, start_day, end_day, chosen, limit, cursor)

    params = list(inspect.signature(handler).parameters.values())[:-1]  # FastAPI reads __signature__, not **chosen
    params[-1] = params[-1].replace(annotation=Annotated[str | None, cursor_query(kinds)])
    for name in filters:
        pattern, description, example = FILTERS[name]
        query = Query(pattern=pattern, description=description, examples=[example])
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[str | None, query]))  # fmt: skip
    handler.__signature__ = inspect.Signature(params, return_annotation=MartPage)  # type: ignore[attr-defined]
    handler.__name__ = f"read_{mart.name}"
    return handler


StartDay = Annotated[Day | None, Query(description="First UTC day (inclusive).", examples=["2026-01-01"])]
EndDay = Annotated[
    Day | None,
    Query(description="Last UTC day (inclusive); default today. Ranges longer than 366 days end at start_day + 365; "
          "an end_day before start_day is empty.", examples=["2026-01-07"]),
]  # fmt: skip

for _mart in Mart:
    router.add_api_route(
        f"/{_mart.value}",
        _route(_mart),
        methods=["GET"],
        response_model=MartPage,
        summary=f"Rows of the mart {MARTS[_mart][0]}",
        description=f"Rows of `marts.{MARTS[_mart][0]}` for the UTC days [start_day, end_day] (default: the last "
        f"7 days, at most 366), in the order of its key ({', '.join(MARTS[_mart][2])}). Keyset pagination. "
        "`503` while dbt has not built the mart in this database.",
        responses=responses(401, 403, 422, 429, 503),
    )
