"""Data access for the dashboard: one pooled connection per database, short-TTL cached, parameterised SQL.

"Now" on every page is the data clock: the end of the newest complete 1-minute window in
`realtime.content_minute_stats` (see `data_clock`), not the wall clock. A replayed or historic data set
therefore still shows its own "latest" numbers, and the distance between the data clock and the wall clock
is reported separately as freshness.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import pandas as pd
import streamlit as st
from psycopg_pool import ConnectionPool

import api.impact as impact
from api.acks import acknowledge as record_acknowledgement
from generator.domain import REGIONS
from streampulse.settings import get_settings

TTL_S = 5  # live numbers: the sinks flush every 0.5 s and windows close once a minute
SLOW_TTL_S = 60  # catalog, marts, anything that changes at most hourly

P = ParamSpec("P")
R = TypeVar("R")

# The generator's fixed prices per region, to show revenue in several currencies as one USD figure.
USD_CENTS_PER_MINOR = {r.currency: 1 / r.minor_per_usd_cent for r in REGIONS}
REQUEST_TYPES = ("DOWNLOAD_COMPLETED", "DOWNLOAD_FAILED", "STREAM_STARTED")


@st.cache_resource(show_spinner=False)
def _pool(dsn: str) -> ConnectionPool:
    return ConnectionPool(
        dsn, min_size=1, max_size=4, open=True, kwargs={"autocommit": True, "options": "-c timezone=UTC"}
    )


def dsn() -> str:
    """The platform database (tests point it elsewhere with DATABASE_URL)."""
    return get_settings().dsn()


def query(db: str, sql: str, params: tuple | dict = ()) -> pd.DataFrame:
    with _pool(db).connection() as conn:
        cur = conn.execute(sql, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def cached(ttl: int = TTL_S) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Cache a query function `fn(db, ...)` for `ttl` seconds; callers leave out `db` (the current database)."""

    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        inner = st.cache_data(ttl=ttl, show_spinner=False)(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            return inner(dsn(), *args, **kwargs)

        wrapper.clear = inner.clear  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _scalar(db: str, sql: str, params: tuple | dict = ()) -> Any:
    df = query(db, sql, params)
    return None if df.empty else df.iat[0, 0]


# ----- the data clock --------------------------------------------------------------------------------
@cached()
def data_clock(db: str) -> datetime | None:
    """End of the newest complete minute in the real-time tables (UTC), or None before any data."""
    value = _scalar(db, "select max(window_end) from realtime.content_minute_stats")
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


@cached()
def table_exists(db: str, name: str) -> bool:
    return bool(_scalar(db, "select to_regclass(%s) is not null", (name,)))


# ----- overview ----------------------------------------------------------------------------------------
@cached()
def minute_totals(db: str, minutes: int = 30) -> pd.DataFrame:
    """Per minute over the last `minutes` of data: events by type, active titles, CDN requests and errors."""
    return query(
        db,
        """
        with clock as (select max(window_start) as newest from realtime.content_minute_stats),
        content as (
            select window_start,
                   sum(events)::bigint as events,
                   sum(downloads_started)::bigint as downloads_started,
                   sum(downloads_completed)::bigint as downloads_completed,
                   sum(downloads_failed)::bigint as downloads_failed,
                   sum(streams_started)::bigint as streams_started,
                   sum(streams_ended)::bigint as streams_ended,
                   sum(purchases)::bigint as purchases,
                   count(*) as active_titles
            from realtime.content_minute_stats, clock
            where window_start > clock.newest - make_interval(mins => %(minutes)s)
            group by window_start
        ),
        cdn as (
            select window_start, sum(requests)::bigint as requests, sum(errors)::bigint as errors
            from realtime.cdn_node_minute_stats, clock
            where window_start > clock.newest - make_interval(mins => %(minutes)s)
            group by window_start
        )
        select c.*, coalesce(d.requests, 0) as requests, coalesce(d.errors, 0) as errors
        from content c left join cdn d using (window_start)
        order by window_start
        """,
        {"minutes": minutes},
    )


@cached()
def revenue_on_day(db: str, day_start: datetime) -> pd.DataFrame:
    """Revenue per currency (minor units) of the UTC day starting at `day_start`, with a USD equivalent."""
    df = query(
        db,
        """
        select currency, sum(revenue_minor)::bigint as revenue_minor, sum(purchases)::bigint as purchases
        from realtime.content_region_minute_stats
        where window_start >= %s and window_start < %s + interval '1 day' and currency is not null
        group by currency order by currency
        """,
        (day_start, day_start),
    )
    df["usd_cents"] = df["revenue_minor"].astype(float) * df["currency"].map(USD_CENTS_PER_MINOR).fillna(0.0)
    return df


# ----- trending ----------------------------------------------------------------------------------------
@cached()
def trending_scopes(db: str) -> list[str]:
    df = query(db, "select distinct trend_scope from realtime.trending order by 1")
    scopes = df["trend_scope"].tolist()
    return (["GLOBAL"] if "GLOBAL" in scopes else []) + [s for s in scopes if s != "GLOBAL"]


@cached()
def trending_now(db: str, scope: str) -> pd.DataFrame:
    """The newest trending window of a scope, with each title's rank one window (1 minute) earlier."""
    return query(
        db,
        """
        with newest as (select max(window_end) as window_end from realtime.trending where trend_scope = %(scope)s)
        select t.rank_no, t.content_id, c.title, c.content_type, t.events, t.recent_events, t.earlier_events,
               t.score, t.window_start, t.window_end, p.rank_no as previous_rank
        from realtime.trending t
        join newest n on t.window_end = n.window_end
        left join realtime.trending p
            on p.trend_scope = t.trend_scope and p.window_end = t.window_end - interval '1 minute'
           and p.content_id = t.content_id
        left join catalog.content c on c.content_id = t.content_id
        where t.trend_scope = %(scope)s
        order by t.rank_no
        """,
        {"scope": scope},
    )


@cached()
def trending_leaders(db: str) -> pd.DataFrame:
    """Number one of every scope in its newest window."""
    return query(
        db,
        """
        select distinct on (t.trend_scope) t.trend_scope, t.content_id, c.title, t.events, t.score, t.window_end
        from realtime.trending t left join catalog.content c using (content_id)
        where t.rank_no = 1
        order by t.trend_scope, t.window_end desc
        """,
    )


@cached()
def trending_history(db: str, scope: str, windows: int = 15) -> pd.DataFrame:
    """Ranks of a scope over its last `windows` windows (for the bump chart)."""
    return query(
        db,
        """
        select t.window_end, t.rank_no, t.content_id, coalesce(c.title, t.content_id) as title, t.score
        from realtime.trending t left join catalog.content c using (content_id)
        where t.trend_scope = %(scope)s
          and t.window_end > (select max(window_end) from realtime.trending where trend_scope = %(scope)s)
                             - make_interval(mins => %(windows)s)
        order by t.window_end, t.rank_no
        """,
        {"scope": scope, "windows": windows},
    )


# ----- content drill-down ------------------------------------------------------------------------------
@cached(SLOW_TTL_S)
def search_titles(db: str, text: str, limit: int = 25) -> pd.DataFrame:
    """Catalog titles containing `text` (case-insensitive), busiest in the last hour of data first."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query(
        db,
        """
        with recent as (
            select content_id, sum(events)::bigint as events from realtime.content_minute_stats
            where window_start >= (select max(window_start) from realtime.content_minute_stats) - interval '1 hour'
            group by content_id
        )
        select c.content_id, c.title, c.content_type, c.genre, coalesce(r.events, 0) as events
        from catalog.content c left join recent r using (content_id)
        where c.title ilike %s or c.content_id ilike %s
        order by events desc, c.title
        limit %s
        """,
        (pattern, pattern, limit),
    )


@cached()
def busiest_titles(db: str, limit: int = 25) -> pd.DataFrame:
    """Titles with the most events in the newest 15 minutes of data (the default choices)."""
    return query(
        db,
        """
        select s.content_id, coalesce(c.title, s.content_id) as title, c.content_type, c.genre,
               sum(s.events)::bigint as events
        from realtime.content_minute_stats s left join catalog.content c using (content_id)
        where s.window_start > (select max(window_start) from realtime.content_minute_stats) - interval '15 minutes'
        group by s.content_id, c.title, c.content_type, c.genre
        order by events desc, s.content_id
        limit %s
        """,
        (limit,),
    )


@cached(SLOW_TTL_S)
def catalog_entry(db: str, content_id: str) -> dict | None:
    df = query(db, "select * from catalog.content where content_id = %s", (content_id,))
    return None if df.empty else df.iloc[0].to_dict()


@cached()
def content_minutes(db: str, content_id: str, minutes: int = 60) -> pd.DataFrame:
    """One title's minute rows over the last `minutes` of data."""
    return query(
        db,
        """
        select * from realtime.content_minute_stats
        where content_id = %s
          and window_start > (select max(window_start) from realtime.content_minute_stats) - make_interval(mins => %s)
        order by window_start
        """,
        (content_id, minutes),
    )


@cached()
def content_hours(db: str, content_id: str, hours: int = 48) -> pd.DataFrame:
    """One title's minute rows summed per hour over the last `hours` of data."""
    return query(
        db,
        """
        select date_trunc('hour', window_start) as hour_start, sum(events)::bigint as events,
               sum(downloads_started)::bigint as downloads_started,
               sum(downloads_completed)::bigint as downloads_completed,
               sum(downloads_failed)::bigint as downloads_failed, sum(streams_started)::bigint as streams_started,
               sum(purchases)::bigint as purchases, count(*) as minutes_with_data
        from realtime.content_minute_stats
        where content_id = %s
          and window_start > (select max(window_start) from realtime.content_minute_stats) - make_interval(hours => %s)
        group by 1 order by 1
        """,
        (content_id, hours),
    )


@cached()
def content_regions(db: str, content_id: str, minutes: int = 60) -> pd.DataFrame:
    """One title's totals per region over the last `minutes` of data."""
    return query(
        db,
        """
        select region, sum(events)::bigint as events, sum(downloads_started)::bigint as downloads_started,
               sum(downloads_completed)::bigint as downloads_completed,
               sum(downloads_failed)::bigint as downloads_failed,
               sum(streams_started)::bigint as streams_started, sum(purchases)::bigint as purchases,
               sum(revenue_minor)::bigint as revenue_minor, max(currency) as currency
        from realtime.content_region_minute_stats
        where content_id = %s
          and window_start > (select max(window_start) from realtime.content_minute_stats) - make_interval(mins => %s)
        group by region order by events desc, region
        """,
        (content_id, minutes),
    )


# ----- regions -----------------------------------------------------------------------------------------
@cached()
def region_health(db: str, minutes: int = 5) -> pd.DataFrame:
    """Per region over the last `minutes` of data: events per minute, CDN requests, error rate, p95 TTFB."""
    return query(
        db,
        """
        with clock as (select max(window_start) as newest from realtime.content_minute_stats),
        activity as (
            select region, sum(events)::float8 / %(minutes)s as events_per_min, sum(purchases)::bigint as purchases
            from realtime.content_region_minute_stats, clock
            where window_start > clock.newest - make_interval(mins => %(minutes)s)
            group by region
        ),
        health as (
            select region, sum(requests)::bigint as requests, sum(errors)::bigint as errors,
                   sum(errors)::float8 / nullif(sum(requests), 0) as error_rate,
                   max(ttfb_p95_ms) as worst_node_ttfb_p95_ms
            from realtime.cdn_node_minute_stats, clock
            where window_start > clock.newest - make_interval(mins => %(minutes)s)
            group by region
        ),
        open_anomalies as (
            select region, count(*) as open_anomalies from realtime.cdn_anomalies where state = 'OPEN' group by region
        )
        select coalesce(a.region, h.region) as region, coalesce(a.events_per_min, 0) as events_per_min,
               coalesce(a.purchases, 0) as purchases, coalesce(h.requests, 0) as requests,
               coalesce(h.errors, 0) as errors, h.error_rate, h.worst_node_ttfb_p95_ms,
               coalesce(o.open_anomalies, 0) as open_anomalies
        from activity a full join health h using (region) left join open_anomalies o using (region)
        order by events_per_min desc
        """,
        {"minutes": minutes},
    )


# ----- CDN health --------------------------------------------------------------------------------------
@cached()
def cdn_minutes(db: str, minutes: int = 60) -> pd.DataFrame:
    """Every node's minute rows over the last `minutes` of data."""
    return query(
        db,
        """
        select cdn_node, region, window_start, requests, errors, error_rate, ttfb_p50_ms, ttfb_p95_ms,
               throughput_avg_kbps
        from realtime.cdn_node_minute_stats
        where window_start > (select max(window_start) from realtime.cdn_node_minute_stats)
                             - make_interval(mins => %s)
        order by cdn_node, window_start
        """,
        (minutes,),
    )


@cached()
def anomalies(db: str, acks_table: bool) -> pd.DataFrame:
    """Every anomaly (open and resolved), newest first, with its acknowledgement when the table exists."""
    ack_cols = (
        "k.acknowledged_by, k.acknowledged_at"
        if acks_table
        else "null::text as acknowledged_by, null::timestamptz as acknowledged_at"
    )
    ack_join = "left join api.anomaly_acks k using (anomaly_kind, subject, started_at)" if acks_table else ""
    return query(
        db,
        f"""
        select a.anomaly_kind, a.subject, a.region, a.started_at, a.detected_at, a.ended_at, a.state,
               a.peak_value, a.severity, a.bad_minutes, {ack_cols}
        from realtime.cdn_anomalies a {ack_join}
        order by a.started_at desc, a.anomaly_kind, a.subject
        """,  # noqa: S608 - fixed fragments only, no user input
    )


@cached()
def anomaly_impact(
    db: str, kind: str, subject: str, region: str, started_at: datetime, ended_at: datetime | None, context_min: int
) -> dict[str, pd.DataFrame]:
    """An anomaly's drill-down, as `GET /v1/anomalies/{id}/impact` computes it (the statements and phases of
    api/impact.py): phases (before, during, after), minutes (per node, with phase), titles, region (totals)."""
    context = timedelta(minutes=context_min)
    params = impact.query_params(kind, subject, region, started_at, ended_at, context)
    rows = query(db, impact.NODE_MINUTES_SQL, params)
    minutes = [impact.NodeMinute(*(None if pd.isna(v) else v for v in r)) for r in rows.itertuples(index=False)]
    spans = impact.phases(minutes, started_at, ended_at, context)
    during = spans[1]
    window = {"region": region, "start": during.start, "end": during.end}
    shown = rows[(rows["window_start"] >= spans[0].start) & (rows["window_start"] < spans[-1].end)].copy()
    shown["phase"] = [next(p.name for p in spans if p.start <= t < p.end) for t in shown["window_start"]]
    shown["error_rate"] = shown["errors"] / shown["requests"].where(shown["requests"] > 0)
    return {
        "phases": pd.DataFrame([asdict(p) for p in spans]),
        "minutes": shown,
        "titles": query(db, impact.TITLES_SQL, window | {"limit": 10}),
        "region": query(db, impact.REGION_TOTALS_SQL, window),
    }


def acknowledge(anomaly_kind: str, subject: str, started_at: datetime, by: str) -> None:
    """Record an acknowledgement the way `POST .../acknowledge` does: the API's statement, as its writer role
    (api/acks.py), not as the platform user this pool logs in as."""
    with _pool(dsn()).connection() as conn:
        record_acknowledgement(conn, anomaly_kind, subject, started_at, by)
    anomalies.clear()  # type: ignore[attr-defined]


# ----- BI ----------------------------------------------------------------------------------------------
@cached(SLOW_TTL_S)
def mart_tables(db: str) -> list[str]:
    df = query(
        db,
        "select table_name from information_schema.tables where table_schema = 'marts' order by table_name",
    )
    return df["table_name"].tolist()


@cached(SLOW_TTL_S)
def mart(db: str, table: str, limit: int = 5000) -> pd.DataFrame:
    """A mart's newest rows. `table` must be one of `mart_tables()` (checked by the caller and here)."""
    from psycopg import sql

    if table not in mart_tables():
        raise ValueError(f"unknown mart {table!r}")
    with _pool(db).connection() as conn:
        cols = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' "
                "and table_name = %s order by ordinal_position",
                (table,),
            )
        ]
        order = next((c for c in ("day", "hour", "hour_start", "day_start") if c in cols), None)
        stmt = sql.SQL("select * from {} {} limit %s").format(
            sql.Identifier("marts", table),
            sql.SQL("order by {} desc").format(sql.Identifier(order)) if order else sql.SQL(""),
        )
        cur = conn.execute(stmt, (limit,))
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


# ----- pipeline ----------------------------------------------------------------------------------------
@cached()
def pipeline_counts(db: str) -> dict[str, Any]:
    """Late events and dead letters (when that table exists) as counts."""
    out: dict[str, Any] = {
        "late_events": int(_scalar(db, "select coalesce(sum(late_events), 0) from realtime.late_events_minute"))
    }
    out["dead_letters"] = out["dead_letters_24h"] = None
    if _scalar(db, "select to_regclass('realtime.dead_letters') is not null"):
        counts = query(
            db,
            "select count(*) as total, count(*) filter (where recorded_at > now() - interval '24 hours') as last_24h "
            "from realtime.dead_letters",
        )
        out["dead_letters"], out["dead_letters_24h"] = int(counts.at[0, "total"]), int(counts.at[0, "last_24h"])
    return out


# ----- notifications ---------------------------------------------------------------------------------------
@cached()
def notification_deliveries(db: str, limit: int = 50) -> tuple[dict[str, int], pd.DataFrame] | None:
    """The notifier's delivery log: counts per status over 24 h and the newest rows; None without the table."""
    if not _scalar(db, "select to_regclass('notifier.deliveries') is not null"):
        return None
    counts = query(
        db,
        "select status, count(*) as n from notifier.deliveries where created_at > now() - interval '24 hours'"
        " group by status",
    )
    rows = query(
        db,
        "select created_at, idempotency_key, channel, status, reason, attempts, delivered_at, last_error"
        " from notifier.deliveries order by id desc limit %s",
        (limit,),
    )
    return dict(zip(counts["status"], counts["n"].astype(int), strict=True)), rows
