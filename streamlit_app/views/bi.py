"""BI: the daily dbt marts and the latest rendered reports, each downloadable."""

import streamlit as st
import streamlit.components.v1 as components

from streamlit_app import data, ops

st.title("BI")
st.caption("Daily rollups built by dbt (schema `marts`) and the reports Dagster renders every day. Days are UTC.")

MART_NOTES = {
    "daily_kpis": "One row per UTC day: the headline KPIs.",
    "content_daily": "Per title, region and UTC day.",
    "content_hourly": "Per title, region and UTC hour.",
    "regional_trend_daily": "Daily leaderboard per region with the rank change against the previous day.",
    "cdn_sla_daily": "Per edge node and day: availability, p95 TTFB against the objective, incidents, MTTD/MTTR (s).",
    "new_release_hourly": "The first 72 hours of every release, hour by hour.",
    "revenue_daily": "Revenue in minor units of each currency, per content type, region and day.",
}

tab_marts, tab_reports = st.tabs(["Marts", "Reports"])

with tab_marts:
    marts = data.mart_tables()
    if not marts:
        st.info(
            "No marts yet: build them with dbt (`dbt build` in `dbt_project/`, or materialize the warehouse "
            "assets in Dagster at http://127.0.0.1:3000). They read the real-time tables, so let the pipeline "
            "run first.",
            icon=":material/info:",
        )
    else:
        preferred = [m for m in MART_NOTES if m in marts] + [m for m in marts if m not in MART_NOTES]
        table = st.selectbox("Mart", preferred, key="mart")
        df = data.mart(table)
        st.caption(MART_NOTES.get(table, "") + f" Newest {len(df):,} rows (at most 5,000).")
        st.dataframe(df, hide_index=True, width="stretch", key=f"mart-{table}")
        st.download_button(
            f"Download {table}.csv",
            df.to_csv(index=False).encode(),
            file_name=f"{table}.csv",
            mime="text/csv",
            icon=":material/download:",
            key=f"download-{table}",
        )

with tab_reports:
    folder = ops.reports_dir()
    reports = ops.list_reports(folder)
    if not reports:
        st.info(
            f"No reports yet in `{folder}`: the daily schedule in Dagster renders one per day, or run the report "
            "job for a past day from the Dagster UI.",
            icon=":material/info:",
        )
    else:
        day = st.selectbox("Day (UTC)", [r.day for r in reports], key="report_day")
        report = next(r for r in reports if r.day == day)
        cols = st.columns(max(1, len(report.csvs) + 1))
        if report.html is not None:
            cols[0].download_button(
                "report.html", report.html.read_bytes(), file_name=f"streampulse-report-{day}.html",
                mime="text/html", icon=":material/download:", key=f"html-{day}",
            )  # fmt: skip
        for col, csv in zip(cols[1:], report.csvs, strict=False):
            col.download_button(
                csv.name, csv.read_bytes(), file_name=f"{day}-{csv.name}", mime="text/csv",
                icon=":material/download:", key=f"csv-{day}-{csv.name}",
            )  # fmt: skip
        if report.html is not None:
            components.html(report.html.read_text(), height=900, scrolling=True)
        else:
            st.warning(f"`{report.folder}` has no report.html.")
