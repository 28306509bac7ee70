"""Data access for the dashboard: one cached connection pool, short-TTL cached, parameterised queries."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from psycopg_pool import ConnectionPool

from streampulse.settings import get_settings


@st.cache_resource
def pool() -> ConnectionPool:
    return ConnectionPool(
        get_settings().dsn(), min_size=1, max_size=4, kwargs={"autocommit": True, "options": "-c timezone=UTC"}
    )


def _query(sql: str, params: tuple = ()) -> pd.DataFrame:
    with pool().connection() as conn:
        cur = conn.execute(sql, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


@st.cache_data(ttl=5)
def top_content_minutes(minutes: int = 30, limit: int = 10) -> pd.DataFrame:
    """Per-minute counts of the `limit` busiest items over the last `minutes` of data."""
    return _query(
        """
        with recent as (
            select * from realtime.content_minute_stats
            where window_start >= (select max(window_start) from realtime.content_minute_stats)
                                 - make_interval(mins => %s)
        ), top as (
            select content_id from recent group by content_id order by sum(events) desc limit %s
        )
        select r.window_start, r.content_id, r.events as event_count
        from recent r join top using (content_id)
        order by r.window_start
        """,
        (minutes, limit),
    )
