"""Report charts: altair specifications rendered to static SVG (vl-convert), so the HTML needs no JavaScript."""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert as vlc

WIDTH = 520
HOURS = [f"{h:02d}:00" for h in range(24)]
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2"]


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Inline SVG for a chart (data embedded, fonts from the viewer)."""
    svg = vlc.vegalite_to_svg(chart.to_json())
    return svg[svg.index("<svg") :] if "<svg" in svg else svg


def _empty(message: str) -> alt.Chart:
    return alt.Chart(pd.DataFrame({"text": [message]})).mark_text(size=14, color="#6b7280").encode(text="text:N")


def hourly_events(hourly: pd.DataFrame) -> alt.Chart:
    """Events per UTC hour of the day, stacked by content type."""
    if hourly.empty:
        return _empty("No events this day")
    df = hourly.assign(hour=pd.to_datetime(hourly["hour_start"], utc=True).dt.strftime("%H:00"))
    return (
        alt.Chart(df, title="Events per hour (UTC), by content type")
        .mark_bar()
        .encode(
            x=alt.X("hour:O", title="Hour (UTC)", scale=alt.Scale(domain=HOURS)),
            y=alt.Y("sum(events):Q", title="Events"),
            color=alt.Color("content_type:N", title="Type", scale=alt.Scale(range=PALETTE)),
        )
        .properties(width=WIDTH, height=220)
    )


def top_movers(movers: pd.DataFrame) -> alt.Chart:
    """Change in events against the previous day for the top movers."""
    if movers.empty:
        return _empty("No movers")
    df = movers.assign(label=movers["title"].fillna(movers["content_id"]))
    return (
        alt.Chart(df, title="Top movers: change in events vs the previous day")
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X("events_change:Q", title="Events, change vs previous day"),
            y=alt.Y("label:N", sort="-x", title=None),
            tooltip=["content_id", "events", "events_prev_day"],
        )
        .properties(width=WIDTH - 140, height=22 * len(df))
    )


def cdn_availability(sla: pd.DataFrame) -> alt.Chart:
    """Availability per edge node against the objective (a rule); nodes that missed their SLO in red."""
    if sla.empty:
        return _empty("No CDN traffic")
    df = sla.assign(status=sla["slo_met"].map({True: "SLO met", False: "SLO missed"}))
    bars = (
        alt.Chart(df, title="CDN availability per edge node")
        .mark_bar()
        .encode(
            x=alt.X("availability:Q", title="Availability", scale=alt.Scale(zero=False), axis=alt.Axis(format="%")),
            y=alt.Y("cdn_node:N", sort="x", title=None),
            color=alt.Color(
                "status:N", title=None, scale=alt.Scale(domain=["SLO met", "SLO missed"], range=["#16a34a", "#dc2626"])
            ),
        )
    )
    objective = (
        alt.Chart(pd.DataFrame({"objective": [float(sla["availability_objective"].iloc[0])]}))
        .mark_rule(color="#111827", strokeDash=[4, 3])
        .encode(x="objective:Q")
    )
    return (bars + objective).properties(width=WIDTH - 140, height=16 * len(df))


def revenue_by_type(revenue: pd.DataFrame) -> alt.Chart:
    """Purchases per content type and region (counts add up across currencies; money does not)."""
    if revenue.empty:
        return _empty("No purchases")
    return (
        alt.Chart(revenue, title="Purchases per region, by content type")
        .mark_bar()
        .encode(
            x=alt.X("region:N", title="Region"),
            y=alt.Y("sum(purchases):Q", title="Purchases"),
            color=alt.Color("content_type:N", title="Type", scale=alt.Scale(range=PALETTE)),
        )
        .properties(width=WIDTH, height=200)
    )
