"""What a daily report shows, read from the dbt marts (and catalog titles) for one UTC day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import psycopg

TOP_MOVERS = 10
TRENDS_PER_REGION = 3


@dataclass(frozen=True)
class ReportData:
    """One day's figures; every frame comes straight from a mart (no figure is recomputed here)."""

    day: date
    kpis: pd.DataFrame  # marts.daily_kpis: the day and the day before (0, 1 or 2 rows)
    hourly: pd.DataFrame  # marts.content_hourly summed per hour and content type
    top_movers: pd.DataFrame  # marts.content_daily per item: events today vs the day before
    regional_trends: pd.DataFrame  # marts.regional_trend_daily, the day's full leaderboards
    cdn_sla: pd.DataFrame  # marts.cdn_sla_daily, every node
    revenue: pd.DataFrame  # marts.revenue_daily

    @property
    def today(self) -> pd.Series | None:
        rows = self.kpis[self.kpis["day"] == self.day]
        return rows.iloc[0] if len(rows) else None

    @property
    def previous(self) -> pd.Series | None:
        rows = self.kpis[self.kpis["day"] == self.day - timedelta(days=1)]
        return rows.iloc[0] if len(rows) else None

    @property
    def empty(self) -> bool:
        return self.today is None


def _frame(conn: psycopg.Connection, sql: str, params: dict) -> pd.DataFrame:
    cur = conn.execute(sql, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def load_report_data(conn: psycopg.Connection, day: date) -> ReportData:
    """Read the day's report figures from the marts (schema `marts`)."""
    p = {"day": day, "prev": day - timedelta(days=1), "top": TOP_MOVERS}
    kpis = _frame(conn, "select * from marts.daily_kpis where day in (%(day)s, %(prev)s) order by day", p)
    hourly = _frame(
        conn,
        """
        select hour_start, content_type, sum(events)::bigint as events, sum(purchases)::bigint as purchases,
               sum(downloads_completed)::bigint as downloads_completed,
               sum(downloads_failed)::bigint as downloads_failed
        from marts.content_hourly
        where hour_start >= (%(day)s::timestamp at time zone 'UTC')
          and hour_start < ((%(day)s + 1)::timestamp at time zone 'UTC')
        group by hour_start, content_type
        order by hour_start, content_type
        """,
        p,
    )
    top_movers = _frame(
        conn,
        """
        with per_item as (
            select content_id,
                   sum(events) filter (where day = %(day)s)::bigint as events,
                   coalesce(sum(events) filter (where day = %(prev)s), 0)::bigint as events_prev_day
            from marts.content_daily
            where day in (%(day)s, %(prev)s)
            group by content_id
        )
        select p.content_id, c.title, c.content_type, p.events, p.events_prev_day,
               (p.events - p.events_prev_day)::bigint as events_change
        from per_item p
        left join catalog.content c using (content_id)
        where p.events is not null
        order by events_change desc, p.events desc, p.content_id
        limit %(top)s
        """,
        p,
    )
    regional_trends = _frame(
        conn,
        "select region, rank_no, content_id, title, content_type, score, windows_trending, prev_rank_no,"
        " rank_change from marts.regional_trend_daily where day = %(day)s order by region = 'GLOBAL' desc,"
        " region, rank_no",
        p,
    )
    cdn_sla = _frame(
        conn,
        "select cdn_node, region, requests, errors, availability, availability_objective, ttfb_p95_ms,"
        " ttfb_p95_objective_ms, slo_met, incidents, open_incidents, mttd_s, mttr_s, regional_outages"
        " from marts.cdn_sla_daily where day = %(day)s order by slo_met, availability, cdn_node",
        p,
    )
    revenue = _frame(
        conn,
        "select region, currency, content_type, purchases, revenue_minor, items_purchased"
        " from marts.revenue_daily where day = %(day)s order by region, currency, content_type",
        p,
    )
    return ReportData(day, kpis, hourly, top_movers, regional_trends, cdn_sla, revenue)
