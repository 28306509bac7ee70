"""Small shared pieces of the pages: formatting with units, freshness colours, empty states."""

from __future__ import annotations

import time
from datetime import datetime

import streamlit as st

NO_DATA = (
    "No data yet: is the generator running? Start everything with `make up` "
    "(or `.venv/bin/streampulse stack up`), then give the first 1-minute window a minute to close."
)
# The newest window closes at its end plus the watermark delay (5 s), and a new one every minute:
# a healthy pipeline is 5-65 s behind the wall clock.
# Red beyond the bound the Dagster freshness check alerts on.
FRESH_S = 75


def freshness_s(clock: datetime | None, now_s: float | None = None) -> float | None:
    """Seconds between the wall clock and the data clock (end of the newest complete minute)."""
    if clock is None:
        return None
    return (now_s if now_s is not None else time.time()) - clock.timestamp()


def freshness_color(seconds: float) -> str:
    from streampulse.settings import get_settings

    return "green" if seconds <= FRESH_S else "orange" if seconds <= get_settings().freshness_bound_seconds else "red"


def format_seconds(seconds: float) -> str:
    """Seconds with a unit; large values also in days/hours so historic data reads sensibly."""
    s = int(round(seconds))
    if s < 120:
        return f"{s:,} s"
    if s < 86_400:
        return f"{s:,} s ({s // 3600} h {s % 3600 // 60} min)"
    return f"{s:,} s ({s // 86_400} d {s % 86_400 // 3600} h)"


# Data may run a little ahead of the wall clock (another host's clock, an event-time generator); beyond this
# it is news worth an orange badge: events stamped in the future.
AHEAD_OK_S = 5


def freshness_text(seconds: float) -> tuple[str, str]:
    """(badge text, colour) for the data clock `seconds` behind the wall clock (negative: ahead of it)."""
    if seconds < -AHEAD_OK_S:
        return f"Data is {format_seconds(-seconds)} ahead of real time (event times in the future)", "orange"
    if seconds < 0:
        return "Freshness: up to date", "green"
    return f"Freshness: {format_seconds(seconds)} behind real time", freshness_color(seconds)


def freshness_badge(clock: datetime | None) -> None:
    seconds = freshness_s(clock)
    if seconds is None:
        st.badge("no data", icon=":material/hourglass_empty:", color="gray")
        return
    text, color = freshness_text(seconds)
    icon = {"green": ":material/check_circle:", "orange": ":material/schedule:", "red": ":material/error:"}[color]
    st.badge(text, icon=icon, color=color)


def data_clock_caption(clock: datetime | None) -> None:
    if clock is not None:
        st.caption(
            f"Data up to **{clock:%Y-%m-%d %H:%M} UTC** (end of the newest complete minute). "
            '"Now" on every page means this data clock, so older data sets still show their latest state.'
        )


def pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def usd(cents: float) -> str:
    return f"${cents / 100:,.2f}"


def no_data() -> None:
    st.info(NO_DATA, icon=":material/info:")
