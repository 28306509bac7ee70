"""Trending: top titles per region in the newest 5-minute window, the score explained, rank movement."""

import pandas as pd
import streamlit as st

from streamlit_app import charts, data, geo, ui

st.title("Trending")
st.caption(
    "Top titles per 5-minute window sliding every minute, computed by Flink (window Top-N). "
    "Movement compares with the window one minute earlier."
)

with st.expander("How the score works", icon=":material/functions:"):
    st.markdown("A title's score rewards **volume** and **acceleration** within its window:")
    st.latex(
        r"\text{score} = \ln(1 + \text{events}) \times "
        r"\frac{\text{recent}/2 + 1}{\text{earlier}/3 + 1}"
    )
    st.markdown(
        "- **events**: all events of the title in the 5-minute window (in the scope's region, or everywhere "
        "for GLOBAL);\n"
        "- **recent**: events in the window's last 2 minutes, so `recent/2` is the recent rate per minute;\n"
        "- **earlier**: events in its first 3 minutes (the baseline), `earlier/3` per minute.\n\n"
        "A steady title scores about `ln(1 + events)`; one whose rate jumps scores that times its "
        "acceleration. The +1 stops a jump from 0 to 2 events beating one from 100 to 1,000, and the log "
        "stops sheer volume burying a fast riser. Titles need at least 5 events in the window."
    )


def movement(row: pd.Series) -> str:
    if pd.isna(row["previous_rank"]):
        return "NEW"
    change = int(row["previous_rank"]) - int(row["rank_no"])
    return f"▲ {change}" if change > 0 else f"▼ {-change}" if change < 0 else "="


def scope_label(scope: str) -> str:
    return "Global" if scope == "GLOBAL" else f"{scope} · {geo.REGION_NAMES.get(scope, scope)}"


scopes = data.trending_scopes()
if not scopes:
    ui.no_data()
    st.stop()
scope = st.segmented_control("Scope", scopes, default=scopes[0], format_func=scope_label, key="scope") or scopes[0]


@st.fragment(run_every=10)
def live(scope: str) -> None:
    top = data.trending_now(scope)
    if top.empty:
        ui.no_data()
        return
    window_start, window_end = top["window_start"].iloc[0], top["window_end"].iloc[0]
    st.subheader(f"{scope_label(scope)}: {window_start:%H:%M}–{window_end:%H:%M} UTC ({window_end:%Y-%m-%d})")
    table = top.assign(
        movement=top.apply(movement, axis=1),
        title=top["title"].fillna(top["content_id"]),
        recent_per_min=top["recent_events"] / 2,
        earlier_per_min=top["earlier_events"] / 3,
        acceleration=(top["recent_events"] / 2 + 1) / (top["earlier_events"] / 3 + 1),
        link="/content?content_id=" + top["content_id"],
    )
    st.dataframe(
        table[
            [
                "rank_no",
                "movement",
                "title",
                "content_type",
                "events",
                "recent_per_min",
                "earlier_per_min",
                "acceleration",
                "score",
                "link",
            ]
        ],  # fmt: skip
        hide_index=True,
        width="stretch",
        column_config={
            "rank_no": st.column_config.NumberColumn("rank", format="%d"),
            "movement": st.column_config.TextColumn("vs 1 min earlier"),
            "content_type": st.column_config.TextColumn("type"),
            "events": st.column_config.NumberColumn("events (5 min)", format="%d"),
            "recent_per_min": st.column_config.NumberColumn("recent (events/min)", format="%.1f"),
            "earlier_per_min": st.column_config.NumberColumn("baseline (events/min)", format="%.1f"),
            "acceleration": st.column_config.ProgressColumn(
                "acceleration (×)",
                format="%.2f×",
                min_value=0.0,
                max_value=max(3.0, float(table["acceleration"].max())),
            ),
            "score": st.column_config.NumberColumn("score", format="%.3f"),
            "link": st.column_config.LinkColumn("drill down", display_text="open ↗"),
        },
        key=f"trending-{scope}",
    )
    history = data.trending_history(scope, 15)
    if history["window_end"].nunique() > 1:
        st.subheader("Rank over the last 15 windows")
        st.altair_chart(charts.rank_bump_chart(history), width="stretch")

    leaders = data.trending_leaders()
    if not leaders.empty:
        st.subheader("Number one in every region")
        st.dataframe(
            leaders.assign(
                scope=leaders["trend_scope"].map(scope_label), title=leaders["title"].fillna(leaders["content_id"])
            )[["scope", "title", "events", "score", "window_end"]],
            hide_index=True,
            width="stretch",
            column_config={
                "events": st.column_config.NumberColumn("events (5 min)", format="%d"),
                "score": st.column_config.NumberColumn("score", format="%.3f"),
                "window_end": st.column_config.DatetimeColumn("window end (UTC)", format="YYYY-MM-DD HH:mm"),
            },
        )


live(scope)
