"""Regions: a world map of activity (circle size) and CDN health (country colour), offline-rendered."""

import streamlit as st

from streamlit_app import charts, data, geo, ui

st.title("Regions")
st.caption(
    "Countries of the store's regions coloured by CDN error rate, circles sized by events per minute, "
    "both over the last 5 minutes of data. The outline map ships with the app (no map tiles needed)."
)


@st.fragment(run_every=10)
def live() -> None:
    clock = data.data_clock()
    ui.data_clock_caption(clock)
    regions = data.region_health(5)
    if clock is None or regions.empty:
        ui.no_data()
        return
    st.altair_chart(charts.world_map(regions), width="stretch")
    table = regions.assign(
        name=regions["region"].map(geo.REGION_NAMES),
        error_rate_pct=regions["error_rate"] * 100,
    )[["region", "name", "events_per_min", "requests", "errors", "error_rate_pct", "worst_node_ttfb_p95_ms",
       "open_anomalies"]]  # fmt: skip
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "events_per_min": st.column_config.NumberColumn("events per minute", format="%.1f"),
            "requests": st.column_config.NumberColumn("CDN requests (5 min)", format="%d"),
            "errors": st.column_config.NumberColumn("CDN errors (5 min)", format="%d"),
            "error_rate_pct": st.column_config.ProgressColumn(
                "CDN error rate (%)", format="%.2f %%", min_value=0.0, max_value=100.0
            ),
            "worst_node_ttfb_p95_ms": st.column_config.NumberColumn("worst node p95 TTFB (ms)", format="%.0f ms"),
            "open_anomalies": st.column_config.NumberColumn("open anomalies", format="%d"),
        },
        key="regions-table",
    )


live()
