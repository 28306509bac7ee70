"""Pure chart builders (no data access, no Streamlit calls), so they are easy to test.

Every time axis is labelled UTC and every quantity axis carries its unit.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from streamlit_app import geo

TIME_FORMAT = "%H:%M"

SEVERITY_COLORS = alt.Scale(domain=["MINOR", "MAJOR", "CRITICAL"], range=["#F2C94C", "#F08A24", "#E5484D"])


def _time_x(field: str, title: str = "time (UTC)") -> alt.X:
    # Ticks on whole minutes: Vega's default picks seconds on short ranges, which %H:%M labels repeat.
    axis = alt.Axis(format=TIME_FORMAT, labelAngle=0, labelOverlap=True)
    return alt.X(f"{field}:T", title=title, axis=axis, scale=alt.Scale(type="utc"))


def event_mix_chart(minutes: pd.DataFrame) -> alt.Chart:
    """Events per minute, stacked by event type."""
    types = {
        "downloads_started": "download started",
        "downloads_completed": "download completed",
        "downloads_failed": "download failed",
        "streams_started": "stream started",
        "streams_ended": "stream ended",
        "purchases": "purchase",
    }
    long = minutes.melt(id_vars=["window_start"], value_vars=list(types), var_name="type", value_name="count")
    long["type"] = long["type"].map(types)
    return (
        alt.Chart(long)
        .mark_area(opacity=0.85)
        .encode(
            x=_time_x("window_start", "minute (UTC)"),
            y=alt.Y("count:Q", title="events per minute", stack=True),
            color=alt.Color("type:N", title="event type", sort=list(types.values())),
            tooltip=[
                alt.Tooltip("window_start:T", title="minute (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("type:N", title="type"),
                alt.Tooltip("count:Q", title="events", format=","),
            ],
        )
        .properties(height=280)
    )


def content_minutes_chart(minutes: pd.DataFrame) -> alt.Chart:
    """One title's events per minute by kind of activity."""
    return event_mix_chart(minutes)


def hourly_bars(hours: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(hours)
        .mark_bar()
        .encode(
            x=alt.X(
                "hour_start:T", title="hour (UTC)", axis=alt.Axis(format="%d %b %H:00"), scale=alt.Scale(type="utc")
            ),
            y=alt.Y("events:Q", title="events per hour"),
            tooltip=[
                alt.Tooltip("hour_start:T", title="hour (UTC)", format="%Y-%m-%d %H:00"),
                alt.Tooltip("events:Q", title="events", format=","),
                alt.Tooltip("minutes_with_data:Q", title="minutes with data"),
            ],
        )
        .properties(height=220)
    )


def region_split_chart(regions: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(regions)
        .mark_bar()
        .encode(
            y=alt.Y("region:N", sort="-x", title="region"),
            x=alt.X("events:Q", title="events (last 60 min of data)"),
            tooltip=["region", alt.Tooltip("events:Q", format=","), "purchases", "downloads_failed"],
        )
        .properties(height=max(120, 24 * len(regions)))
    )


def ttfb_chart(minutes: pd.DataFrame) -> alt.Chart:
    long = minutes.melt(
        id_vars=["window_start"], value_vars=["ttfb_avg_ms", "ttfb_p95_ms"], var_name="measure", value_name="ms"
    )
    long["measure"] = long["measure"].map({"ttfb_avg_ms": "mean", "ttfb_p95_ms": "p95"})
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=_time_x("window_start", "minute (UTC)"),
            y=alt.Y("ms:Q", title="time to first byte (ms)"),
            color=alt.Color("measure:N", title="TTFB"),
            tooltip=[alt.Tooltip("window_start:T", format="%H:%M UTC"), "measure", alt.Tooltip("ms:Q", format=",.0f")],
        )
        .properties(height=220)
    )


def rank_bump_chart(history: pd.DataFrame) -> alt.Chart:
    """Rank of each title over the last windows (1 = top); lines for titles in the newest window."""
    newest = history["window_end"].max()
    current = set(history.loc[history["window_end"] == newest, "content_id"])
    shown = history[history["content_id"].isin(current)]
    return (
        alt.Chart(shown)
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=_time_x("window_end", "window end (UTC)"),
            y=alt.Y("rank_no:O", title="rank", scale=alt.Scale(reverse=False)),
            color=alt.Color("title:N", title="title", legend=alt.Legend(orient="right", labelLimit=220)),
            tooltip=[
                alt.Tooltip("window_end:T", title="window end (UTC)", format="%H:%M"),
                "title",
                "rank_no",
                alt.Tooltip("score:Q", format=".2f"),
            ],
        )
        .properties(height=320)
    )


def world_map(regions: pd.DataFrame, metric: str = "error_rate") -> alt.LayerChart:
    """Countries of the simulated regions coloured by CDN error rate, circles sized by activity."""
    topo = geo.world_topojson()
    data = geo.region_frame().merge(regions, on="region", how="left")
    data["error_rate_pct"] = data["error_rate"] * 100
    countries = alt.InlineData(values=topo, format=alt.DataFormat(type="topojson", feature="countries"))
    base = (
        alt.Chart(countries).mark_geoshape(fill="#ECEBF5", stroke="#FFFFFF", strokeWidth=0.5).project(type="equalEarth")
    )
    health = (
        alt.Chart(countries)
        .mark_geoshape(stroke="#FFFFFF", strokeWidth=0.6)
        .transform_lookup(
            lookup="id",
            from_=alt.LookupData(data, "iso_n3", ["region", "name", "error_rate_pct", "events_per_min", "requests"]),
        )
        .transform_filter("isValid(datum.region)")
        .encode(
            color=alt.Color(
                "error_rate_pct:Q",
                title="CDN error rate (%)",
                scale=alt.Scale(domain=[0, 5, 20, 60], range=["#17A398", "#F2C94C", "#F08A24", "#E5484D"]),
                legend=alt.Legend(orient="bottom", direction="horizontal", gradientLength=220),
            ),
            tooltip=[
                alt.Tooltip("name:N", title="region"),
                alt.Tooltip("error_rate_pct:Q", title="error rate (%)", format=".2f"),
                alt.Tooltip("events_per_min:Q", title="events per minute", format=",.1f"),
            ],
        )
        .project(type="equalEarth")
    )
    bubbles = (
        alt.Chart(data)
        .mark_circle(opacity=0.75, stroke="#1F1D2B", strokeWidth=0.6, color="#5B4BDB")
        .encode(
            longitude="lon:Q",
            latitude="lat:Q",
            size=alt.Size(
                "events_per_min:Q",
                title="events per minute",
                scale=alt.Scale(range=[40, 1600]),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("name:N", title="region"),
                alt.Tooltip("events_per_min:Q", title="events per minute", format=",.1f"),
                alt.Tooltip("error_rate_pct:Q", title="CDN error rate (%)", format=".2f"),
                alt.Tooltip("open_anomalies:Q", title="open anomalies"),
            ],
        )
        .project(type="equalEarth")
    )
    return alt.layer(base, health, bubbles).properties(height=460).resolve_scale(color="independent")


def cdn_heatmap(minutes: pd.DataFrame, measure: str) -> alt.Chart:
    """Node x minute heat map of `measure` (error_rate in %, or ttfb_p95_ms)."""
    df = minutes.copy()
    if measure == "error_rate":
        df["value"] = df["error_rate"] * 100
        title = "error rate (%)"
        scale = alt.Scale(domain=[0, 5, 20, 60], range=["#E8F6F3", "#F2C94C", "#F08A24", "#E5484D"])
    else:
        df["value"] = df["ttfb_p95_ms"]
        title, scale = "p95 TTFB (ms)", alt.Scale(scheme="purples")
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X(
                "utcyearmonthdatehoursminutes(window_start):O",
                title="minute (UTC)",
                axis=alt.Axis(format="%H:%M", labelAngle=-90, labelOverlap=True),
            ),
            y=alt.Y("cdn_node:N", title="edge node", sort=alt.SortField("region"), axis=alt.Axis(labelOverlap=False)),
            color=alt.Color("value:Q", title=title, scale=scale),
            tooltip=[
                "cdn_node",
                "region",
                alt.Tooltip("window_start:T", title="minute (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("requests:Q", title="requests"),
                alt.Tooltip("value:Q", title=title, format=",.1f"),
            ],
        )
        .properties(height=alt.Step(20))
    )


def latency_percentiles(minutes: pd.DataFrame) -> alt.Chart:
    long = minutes.melt(
        id_vars=["cdn_node", "window_start"], value_vars=["ttfb_p50_ms", "ttfb_p95_ms"], var_name="p", value_name="ms"
    )
    long["percentile"] = long["p"].map({"ttfb_p50_ms": "p50", "ttfb_p95_ms": "p95"})
    return (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=_time_x("window_start", "minute (UTC)"),
            y=alt.Y("ms:Q", title="time to first byte (ms)"),
            color=alt.Color("cdn_node:N", title="edge node"),
            strokeDash=alt.StrokeDash("percentile:N", title="percentile"),
            tooltip=["cdn_node", "percentile", alt.Tooltip("window_start:T", format="%H:%M UTC"), "ms"],
        )
        .properties(height=280)
    )


def anomaly_timeline(anomalies: pd.DataFrame, now: pd.Timestamp) -> alt.Chart:
    """One bar per anomaly from its start to its end (open ones to the data clock), coloured by severity."""
    df = anomalies.copy()
    df["until"] = df["ended_at"].fillna(now)
    df["label"] = df["anomaly_kind"] + " · " + df["subject"]
    return (
        alt.Chart(df)
        .mark_bar(cornerRadius=3, height=14)
        .encode(
            x=alt.X(
                "started_at:T",
                title="time (UTC)",
                axis=alt.Axis(format=TIME_FORMAT, labelOverlap=True),
                scale=alt.Scale(type="utc"),
            ),
            x2="until:T",
            y=alt.Y("label:N", title=None, sort=alt.SortField("started_at"), axis=alt.Axis(labelLimit=320)),
            color=alt.Color("severity:N", scale=SEVERITY_COLORS, title="severity"),
            opacity=alt.condition("datum.state == 'OPEN'", alt.value(1.0), alt.value(0.6)),
            tooltip=[
                "anomaly_kind",
                "subject",
                "region",
                "state",
                "severity",
                alt.Tooltip("started_at:T", title="started (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("detected_at:T", title="detected (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("ended_at:T", title="ended (UTC)", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("peak_value:Q", title="peak", format=",.3f"),
            ],
        )
        .properties(height=max(120, 26 * len(df)))
    )


def anomaly_impact_chart(minutes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, field: str) -> alt.LayerChart:
    """An anomaly's node(s) minute by minute (`field`: error_rate or ttfb_p95_ms), its minutes shaded."""
    span = alt.Chart(pd.DataFrame({"start": [start], "end": [end]})).mark_rect(opacity=0.15, color="#d62728")
    line = (
        alt.Chart(minutes)
        .mark_line(point=True)
        .encode(
            x=_time_x("window_start", "minute (UTC)"),
            y=alt.Y(
                f"{field}:Q",
                title={"error_rate": "error rate", "ttfb_p95_ms": "p95 TTFB (ms)"}[field],
                axis=alt.Axis(format="%") if field == "error_rate" else alt.Axis(),
            ),  # fmt: skip
            color=alt.Color("cdn_node:N", title="edge node"),
            tooltip=["cdn_node", "phase", alt.Tooltip("window_start:T", format="%H:%M UTC"), field, "requests"],
        )
    )
    return alt.layer(span.encode(x=_time_x("start", "minute (UTC)"), x2="end:T"), line).properties(height=170)
