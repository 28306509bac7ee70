"""Content drill-down: find a title by name; its minute and hour series, regional split, delivery quality."""

import pandas as pd
import streamlit as st

from streamlit_app import charts, data, ui

st.title("Content")

clock = data.data_clock()
if clock is None:
    ui.no_data()
    st.stop()

search = st.text_input("Find a title", placeholder="part of a title or a content id, e.g. 'love' or 'mov-000123'")
choices = data.search_titles(search.strip()) if search.strip() else data.busiest_titles(25)
wanted = st.query_params.get("content_id")
if wanted and wanted not in set(choices["content_id"]):
    entry = data.catalog_entry(wanted)
    extra = {"content_id": wanted, "title": entry["title"] if entry else wanted, "events": 0}
    choices = pd.concat([pd.DataFrame([extra]), choices], ignore_index=True)
if choices.empty:
    st.warning(f"No title matches {search!r}. Try a shorter part of the name.", icon=":material/search_off:")
    st.stop()

labels = {
    row.content_id: f"{row.title} ({row.content_id}) · {int(row.events):,} events in the last hour of data"
    if search.strip()
    else f"{row.title} ({row.content_id}) · {int(row.events):,} events in the last 15 min"
    for row in choices.itertuples()
}
ids = list(labels)
index = ids.index(wanted) if wanted in ids else 0
content_id = st.selectbox("Title", ids, index=index, format_func=labels.get, key="content_id_select")
st.query_params["content_id"] = content_id


@st.fragment(run_every=10)
def live(content_id: str) -> None:
    clock = data.data_clock()
    entry = data.catalog_entry(content_id) or {}
    minutes = data.content_minutes(content_id, 60)
    st.subheader(entry.get("title", content_id))
    if entry:
        st.caption(
            f"{entry['content_type'].replace('_', ' ').title()} · {entry['genre']} · released "
            f"{pd.Timestamp(entry['released_at']):%Y-%m-%d} · list price ${entry['price_usd_cents'] / 100:,.2f} · "
            f"`{content_id}`"
        )
    ui.data_clock_caption(clock)

    totals = minutes[["events", "downloads_started", "downloads_completed", "downloads_failed", "purchases"]].sum()
    finished = totals["downloads_completed"] + totals["downloads_failed"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Events (last 60 min of data)", f"{int(totals['events']):,} events", border=True)
    c2.metric(
        "Download success rate",
        ui.pct(totals["downloads_completed"] / finished if finished else None),
        help="Completed / (completed + failed) downloads over the last 60 minutes of data.",
        border=True,
    )
    c3.metric("Purchases (last 60 min of data)", f"{int(totals['purchases']):,} purchases", border=True)
    c4.metric("Newest minute (UTC)", f"{clock - pd.Timedelta(minutes=1):%Y-%m-%d %H:%M}", border=True)

    if minutes.empty:
        st.info("This title had no events in the last 60 minutes of data.", icon=":material/info:")
        return
    tab_minute, tab_hour, tab_regions, tab_devices, tab_quality = st.tabs(
        ["Per minute", "Per hour", "Regions", "Devices", "Delivery quality"]
    )
    with tab_minute:
        st.altair_chart(charts.content_minutes_chart(minutes), width="stretch")
    with tab_hour:
        hours = data.content_hours(content_id, 48)
        st.altair_chart(charts.hourly_bars(hours), width="stretch")
        st.caption("Sums of the minute windows per UTC hour, last 48 hours of data; the newest hour may be partial.")
    with tab_regions:
        regions = data.content_regions(content_id, 60)
        st.altair_chart(charts.region_split_chart(regions), width="stretch")
        st.dataframe(
            regions,
            hide_index=True,
            width="stretch",
            column_config={
                "events": st.column_config.NumberColumn("events", format="%d"),
                "revenue_minor": st.column_config.NumberColumn("revenue (minor units of currency)", format="%d"),
            },
        )
    with tab_devices:
        st.info(
            "No device split yet: the real-time tables aggregate by title and region only (devices are in the "
            "raw events on Kafka, not in `realtime.*`). A device breakdown needs a per-device aggregate in the "
            "Flink job or a dbt mart over one.",
            icon=":material/devices:",
        )
    with tab_quality:
        st.altair_chart(charts.ttfb_chart(minutes), width="stretch")
        failures = minutes.assign(
            failure_rate_pct=100
            * minutes["downloads_failed"]
            / (minutes["downloads_completed"] + minutes["downloads_failed"]).where(lambda s: s > 0)
        )[["window_start", "downloads_completed", "downloads_failed", "failure_rate_pct", "bytes_sent"]]
        st.dataframe(
            failures.sort_values("window_start", ascending=False),
            hide_index=True,
            width="stretch",
            column_config={
                "window_start": st.column_config.DatetimeColumn("minute (UTC)", format="YYYY-MM-DD HH:mm"),
                "failure_rate_pct": st.column_config.NumberColumn("download failures (%)", format="%.1f %%"),
                "bytes_sent": st.column_config.NumberColumn("bytes sent (B)", format="%d"),
            },
        )


live(content_id)
