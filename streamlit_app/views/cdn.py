"""CDN health: per-node heat map over time, latency percentiles, the anomaly timeline with acknowledge, and
an anomaly's drill-down (what it hit)."""

import getpass
from datetime import datetime

import pandas as pd
import streamlit as st

from streamlit_app import charts, data, ui

st.title("CDN health")

clock = data.data_clock()
if clock is None:
    ui.no_data()
    st.stop()
window = (
    st.segmented_control(
        "Time range", [15, 30, 60], default=30, format_func=lambda m: f"last {m} min of data", key="cdn_window"
    )
    or 30
)
measure = (
    st.segmented_control(
        "Heat map of",
        ["error_rate", "ttfb_p95_ms"],
        default="error_rate",
        format_func={"error_rate": "error rate (%)", "ttfb_p95_ms": "p95 time to first byte (ms)"}.get,
        key="cdn_measure",
    )
    or "error_rate"
)


@st.fragment(run_every=10)
def live(window: int, measure: str) -> None:
    ui.data_clock_caption(data.data_clock())
    minutes = data.cdn_minutes(window)
    if minutes.empty:
        ui.no_data()
        return
    st.subheader("Edge nodes per minute")
    # Explicit height: one readable row per node (Streamlit otherwise fits the chart to a default height).
    st.altair_chart(
        charts.cdn_heatmap(minutes, measure), width="stretch", height=22 * minutes["cdn_node"].nunique() + 90
    )

    st.subheader("Latency percentiles")
    nodes = sorted(minutes["cdn_node"].unique())
    worst = minutes.groupby("cdn_node")["ttfb_p95_ms"].max().sort_values(ascending=False).index[:3].tolist()
    chosen = st.multiselect("Edge nodes", nodes, default=worst, key="cdn_nodes", help="Default: the 3 worst p95.")
    if chosen:
        st.altair_chart(charts.latency_percentiles(minutes[minutes["cdn_node"].isin(chosen)]), width="stretch")
    summary = minutes.groupby(["cdn_node", "region"], as_index=False).agg(
        requests=("requests", "sum"), errors=("errors", "sum"), ttfb_p50_ms=("ttfb_p50_ms", "median"),
        worst_p95_ms=("ttfb_p95_ms", "max"), throughput_kbps=("throughput_avg_kbps", "mean"),
    )  # fmt: skip
    summary["error_rate_pct"] = 100 * summary["errors"] / summary["requests"]
    st.dataframe(
        summary.sort_values("error_rate_pct", ascending=False),
        hide_index=True,
        width="stretch",
        column_config={
            "requests": st.column_config.NumberColumn("requests", format="%d"),
            "errors": st.column_config.NumberColumn("errors", format="%d"),
            "ttfb_p50_ms": st.column_config.NumberColumn("median of minute p50 TTFB (ms)", format="%.0f ms"),
            "worst_p95_ms": st.column_config.NumberColumn("worst minute p95 TTFB (ms)", format="%.0f ms"),
            "throughput_kbps": st.column_config.NumberColumn("mean throughput (kbit/s)", format="%.0f"),
            "error_rate_pct": st.column_config.NumberColumn("error rate (%)", format="%.2f %%"),
        },
        key="cdn-summary",
    )
    anomaly_section()


def anomaly_section() -> None:
    st.subheader("Anomalies")
    acks = data.table_exists("api.anomaly_acks")
    anomalies = data.anomalies(acks)
    if anomalies.empty:
        st.success("No anomalies detected in the data so far.", icon=":material/verified:")
        return
    open_count = int((anomalies["state"] == "OPEN").sum())
    st.caption(f"{len(anomalies)} anomalies, {open_count} open. Bars run from start to end (open ones to now).")
    st.altair_chart(
        charts.anomaly_timeline(anomalies, pd.Timestamp(data.data_clock())),
        width="stretch",
        height=30 * len(anomalies) + 70,
    )
    if not acks:
        st.warning(
            "Acknowledging needs the API's table `api.anomaly_acks` (created by `streampulse stack up` once the "
            "REST API's migrations include it).",
            icon=":material/lock:",
        )
    for row in anomalies.itertuples():
        with st.container(border=True):
            cols = st.columns([3, 2, 2, 2])
            state_color = "red" if row.state == "OPEN" else "green"
            cols[0].markdown(
                f"**{row.anomaly_kind}** · `{row.subject}` ({row.region}) :{state_color}-badge[{row.state}] "
                f":{'red' if row.severity == 'CRITICAL' else 'orange'}-badge[{row.severity}]"
            )
            cols[1].markdown(f"started **{row.started_at:%H:%M} UTC**  \ndetected {row.detected_at:%H:%M} UTC")
            ended = "open" if pd.isna(row.ended_at) else f"{row.ended_at:%H:%M} UTC"
            unit = " ms" if row.anomaly_kind == "LATENCY" else ""
            peak = f"{row.peak_value:,.0f}{unit}" if unit else f"{row.peak_value * 100:.1f} % errors"
            cols[2].markdown(f"ended {ended}  \npeak {peak}")
            key = f"ack-{row.anomaly_kind}-{row.subject}-{row.started_at:%Y%m%d%H%M}"
            if isinstance(row.acknowledged_by, str):
                cols[3].markdown(f":green[✔ acknowledged by {row.acknowledged_by}]  \n{row.acknowledged_at:%H:%M} UTC")
            else:
                # A callback runs before the rerun it triggers, so the list below already shows the acknowledgement.
                cols[3].button(
                    "Acknowledge",
                    key=key,
                    disabled=not acks,
                    icon=":material/done:",
                    on_click=_acknowledge,
                    args=(row.anomaly_kind, row.subject, row.started_at.to_pydatetime()),
                )
    drill_down(anomalies)


def drill_down(anomalies: pd.DataFrame) -> None:
    """What one anomaly hit: its region and titles during its minutes, its node's figures either side."""
    st.subheader("What it hit")
    labels = [f"{r.anomaly_kind} · {r.subject} · {r.started_at:%Y-%m-%d %H:%M} UTC" for r in anomalies.itertuples()]
    # Chosen by label, so a new anomaly at the top of the list does not change the one shown.
    chosen = st.selectbox("Anomaly", labels, key="cdn_drill")
    context = st.segmented_control("Minutes either side", [5, 15, 30], default=15, key="cdn_drill_context") or 15
    row = anomalies.iloc[labels.index(chosen) if chosen in labels else 0]
    ended = None if pd.isna(row.ended_at) else row.ended_at.to_pydatetime()
    hit = data.anomaly_impact(row.anomaly_kind, row.subject, row.region, row.started_at.to_pydatetime(), ended,
                              context)  # fmt: skip
    phases = hit["phases"].set_index("name")
    cols = st.columns(len(phases))
    for col, (name, p) in zip(cols, phases.iterrows(), strict=True):
        col.metric(
            f"{name.capitalize()} ({p.start:%H:%M}-{p.end:%H:%M})",
            ui.pct(None if pd.isna(p.error_rate) else p.error_rate) + " errors",
            delta=f"worst p95 {p.worst_ttfb_p95_ms:,.0f} ms" if pd.notna(p.worst_ttfb_p95_ms) else "no traffic",
            delta_color="off",
            delta_arrow="off",
            border=True,
            help=f"{p.requests:,} requests, {p.errors:,} errors over {p.minutes} node-minutes.",
        )
    if not hit["minutes"].empty:
        during = phases.loc["during"]
        for field in ("error_rate", "ttfb_p95_ms"):
            chart = charts.anomaly_impact_chart(hit["minutes"], during.start, during.end, field)
            st.altair_chart(chart, width="stretch", key=f"cdn-drill-{field}")
    totals = hit["region"].iloc[0]
    st.markdown(
        f"In region **{row.region}** during its minutes: {int(totals.events):,} events on "
        f"{int(totals.titles):,} titles, {int(totals.downloads_failed):,} failed downloads. Titles with the most "
        "failed downloads (per region: the real-time tables do not split titles by node):"
    )
    st.dataframe(hit["titles"], hide_index=True, width="stretch", key="cdn-drill-titles")


def _acknowledge(anomaly_kind: str, subject: str, started_at: datetime) -> None:
    data.acknowledge(anomaly_kind, subject, started_at, _analyst())
    st.toast(f"Acknowledged {anomaly_kind} on {subject}", icon=":material/done:")


def _analyst() -> str:
    """Who acknowledges: the signed-in user when auth is configured, else the OS user running the app."""
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("name"))
    except (AttributeError, KeyError):
        pass
    return f"dashboard:{getpass.getuser()}"


live(window, measure)
