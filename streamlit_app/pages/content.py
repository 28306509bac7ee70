"""Content performance: events per minute for the busiest titles."""

import streamlit as st

from streamlit_app import charts, data

st.title("Content performance")
st.caption("1-minute tumbling windows computed by Flink, times in UTC.")


@st.fragment(run_every=5)
def live_chart() -> None:
    df = data.top_content_minutes()
    if df.empty:
        st.info("No data yet: is the generator running? Start everything with `make up`.")
        return
    st.altair_chart(charts.minute_counts_chart(df), use_container_width=True)
    latest = df["window_start"].max()
    st.metric("Newest complete minute (UTC)", f"{latest:%Y-%m-%d %H:%M}")


live_chart()
