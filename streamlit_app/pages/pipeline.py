"""Pipeline: is the stream processing healthy? Flink job state, checkpoint age, Kafka lag, dead letters."""

import pandas as pd
import streamlit as st

from flink_jobs.runner import JOB_NAME
from streamlit_app import data, ops, ui
from streampulse.settings import get_settings

st.title("Pipeline")
settings = get_settings()
dagster_url = f"http://{settings.bind_host}:{settings.dagster_port}"
left, right, _ = st.columns([1, 1, 3])
left.link_button("Dagster UI", dagster_url, icon=":material/open_in_new:", width="stretch")
right.link_button("Flink UI", settings.flink_url, icon=":material/open_in_new:", width="stretch")

CHECKPOINT_WARN_S = 3 * settings.checkpoint_interval_ms / 1000


@st.fragment(run_every=5)
def live() -> None:
    clock = data.data_clock()
    c1, c2, c3, c4, c5 = st.columns(5)
    jobs = ops.flink_jobs(settings.flink_url)
    main = None
    if isinstance(jobs, str):
        c1.metric("Flink job", "unreachable", border=True)
        st.error(jobs, icon=":material/error:")
    else:
        running = jobs[(jobs["name"] == JOB_NAME) & (jobs["state"] == "RUNNING")]
        mine = jobs[jobs["name"] == JOB_NAME]
        main = running.iloc[0] if not running.empty else (mine.iloc[0] if not mine.empty else None)
        c1.metric(
            "Analytics job (Flink)",
            "not submitted" if main is None else str(main["state"]),
            border=True,
            help=f"State of the Flink job `{JOB_NAME}`, submitted by `streampulse stack up` or Dagster.",
        )
    checkpoints = (
        ops.flink_checkpoints(settings.flink_url, main["job_id"]) if main is not None else "no job to ask about"
    )
    if isinstance(checkpoints, str) or checkpoints.age_s() is None:
        c2.metric("Checkpoint age", "–", border=True, help=checkpoints if isinstance(checkpoints, str) else None)
    else:
        age = checkpoints.age_s()
        c2.metric(
            "Checkpoint age",
            f"{age:,.0f} s",
            delta="late" if age > CHECKPOINT_WARN_S else "on time",
            delta_color="inverse" if age > CHECKPOINT_WARN_S else "normal",
            delta_arrow="off",
            border=True,
            help="Since the newest completed checkpoint; one is due every "
            f"{settings.checkpoint_interval_ms / 1000:.0f} s "
            f"({checkpoints.completed:,} completed, {checkpoints.failed:,} failed).",
        )
    lag = ops.kafka_lag(settings.bootstrap_servers, JOB_NAME, settings.events_topic)
    if isinstance(lag, str):
        c3.metric("Kafka lag", "–", border=True, help=lag)
    else:
        total = lag["lag"].sum(min_count=1)
        c3.metric(
            "Kafka lag",
            "no commits yet" if pd.isna(total) else f"{int(total):,} records",
            border=True,
            help=f"Log end offset minus the offsets group `{JOB_NAME}` committed (Flink commits on every checkpoint) "
            f"on topic `{settings.events_topic}`.",
        )
    counts = data.pipeline_counts()
    c4.metric(
        "Dead letters",
        "no table" if counts["dead_letters"] is None else f"{counts['dead_letters']:,} records",
        border=True,
        help="Kafka records the job could not decode (realtime.dead_letters).",
    )
    c5.metric("Late events (all time)", f"{counts['late_events']:,} events", border=True,
              help="Events that arrived after the watermark had passed their minute; not in the windows.")  # fmt: skip

    st.markdown("**Data freshness**")
    ui.freshness_badge(clock)
    ui.data_clock_caption(clock)

    st.subheader("Flink jobs")
    if isinstance(jobs, str) or jobs.empty:
        st.info("No jobs on the Flink cluster: `streampulse stack up` submits the analytics job.", icon="ℹ️")
    else:
        st.dataframe(
            jobs,
            hide_index=True,
            width="stretch",
            column_config={
                "started (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
                "duration_s": st.column_config.NumberColumn("duration (s)", format="%.0f s"),
            },
            key="flink-jobs",
        )
    if not isinstance(lag, str):
        st.subheader(f"Kafka consumer lag, topic `{settings.events_topic}`")
        st.dataframe(
            lag,
            hide_index=True,
            column_config={
                "end_offset": st.column_config.NumberColumn("log end offset", format="%d"),
                "committed": st.column_config.NumberColumn("committed offset", format="%d"),
                "lag": st.column_config.NumberColumn("lag (records)", format="%d"),
            },
            key="kafka-lag",
        )


live()
