"""Pure chart builders (no data access), so they are easy to test."""

from __future__ import annotations

import altair as alt
import pandas as pd


def minute_counts_chart(df: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("window_start:T", title="window start (UTC)"),
            y=alt.Y("event_count:Q", title="events per minute"),
            color=alt.Color("content_id:N", title="content"),
            tooltip=["content_id", alt.Tooltip("window_start:T", format="%H:%M UTC"), "event_count"],
        )
        .properties(height=380)
    )
