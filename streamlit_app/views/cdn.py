"""CDN health: per-node heat map over time, latency percentiles, and the anomaly timeline with acknowledge."""

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
