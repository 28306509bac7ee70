"""Overview: the platform's pulse in the newest complete minute, and how fresh the data is."""

import pandas as pd
import streamlit as st

from streamlit_app import charts, data, ui

st.title("Overview")


@st.fragment(run_every=5)
def live() -> None:
    clock = data.data_clock()
    left, right = st.columns([3, 2], vertical_alignment="center")
    with right:
        ui.freshness_badge(clock)
    with left:
        ui.data_clock_caption(clock)
    minutes = data.minute_totals(30)
    if clock is None or minutes.empty:
        ui.no_data()
        return

    newest, previous = minutes.iloc[-1], minutes.iloc[-2] if len(minutes) > 1 else None
    rate = minutes["events"] / 60
    success = 1 - minutes["errors"] / minutes["requests"].where(minutes["requests"] > 0)
    day_start = pd.Timestamp(newest["window_start"]).floor("D").to_pydatetime()
    revenue = data.revenue_on_day(day_start)
    revenue_by_minute_hint = f"UTC day {day_start:%Y-%m-%d} up to {clock:%H:%M} UTC"

    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Events/s (newest minute)",
        f"{rate.iloc[-1]:,.1f} events/s",
        delta=None if previous is None else f"{rate.iloc[-1] - rate.iloc[-2]:+,.1f} events/s",
        chart_data=rate.round(2).tolist(),
        chart_type="area",
        border=True,
        help="Events of every type in the newest complete 1-minute window, divided by 60.",
    )
    newest_success = success.iloc[-1]
    c2.metric(
        "Delivery success rate",
        ui.pct(None if pd.isna(newest_success) else float(newest_success)),
        delta=None
        if previous is None or pd.isna(success.iloc[-2]) or pd.isna(newest_success)
        else f"{(newest_success - success.iloc[-2]) * 100:+.2f} pp",
        chart_data=(success.fillna(1) * 100).round(3).tolist(),
        border=True,
        help="1 - errors / requests over every CDN request (completed or failed downloads, stream starts) "
        "in the newest minute.",
    )
    c3.metric(
        "Revenue today (USD equiv.)",
        ui.usd(float(revenue["usd_cents"].sum())) if not revenue.empty else "$0.00",
        border=True,
        help=f"Purchases in the {revenue_by_minute_hint}, each currency converted at the store's fixed price "
        "table; per-currency amounts below.",
    )
    c4.metric(
        "Active titles",
        f"{int(newest['active_titles']):,} titles",
        delta=None if previous is None else f"{int(newest['active_titles'] - previous['active_titles']):+,} titles",
        chart_data=minutes["active_titles"].tolist(),
        chart_type="bar",
        border=True,
        help="Titles with at least one event in the newest minute.",
    )

    st.subheader("Events per minute by type")
    st.altair_chart(charts.event_mix_chart(minutes), width="stretch")

    with st.expander(f"Revenue today by currency ({revenue_by_minute_hint})"):
        if revenue.empty:
            st.caption("No purchases yet today.")
        else:
            table = revenue.assign(amount=revenue["revenue_minor"], usd=revenue["usd_cents"] / 100)[
                ["currency", "amount", "purchases", "usd"]
            ]
            st.dataframe(
                table,
                hide_index=True,
                column_config={
                    "amount": st.column_config.NumberColumn("revenue (minor units)", format="%d"),
                    "purchases": st.column_config.NumberColumn("purchases", format="%d"),
                    "usd": st.column_config.NumberColumn("USD equivalent ($)", format="$%.2f"),
                },
            )
    st.caption(
        f"Sparklines: the last {len(minutes)} minutes of data, "
        f"{minutes['window_start'].iloc[0]:%H:%M}–{clock:%H:%M} UTC."
    )


live()
