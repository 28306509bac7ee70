"""Pipeline: is the stream processing healthy? Flink job state, checkpoint age, Kafka lag, dead letters, and the
alert notifications delivered, retrying or failed."""

import streamlit as st

from streamlit_app import data, ops, ui
from streampulse.settings import get_settings

st.title("Pipeline")
settings = get_settings()
JOB_NAME = settings.flink_job_name
dagster_url = f"http://{settings.bind_host}:{settings.dagster_port}"
left, right, _ = st.columns([1, 1, 3])
left.link_button("Dagster UI", dagster_url, icon=":material/open_in_new:", width="stretch")
right.link_button("Flink UI", settings.flink_url, icon=":material/open_in_new:", width="stretch")

CHECKPOINT_WARN_S = settings.checkpoint_stale_s


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
    lag = ops.kafka_lag(settings.bootstrap_servers, settings.events_topic)
    if isinstance(lag, str):
        c3.metric("Kafka lag", "–", border=True, help=lag)
    else:
        mine = lag[lag["group"] == JOB_NAME]
        records = None if mine.empty else int(mine["lag"].sum())
        c3.metric(
            "Kafka lag",
            "–" if records is None else f"{records:,} records",
            delta="no commits yet"
            if records is None
            else "over bound"
            if records > settings.max_consumer_lag
            else "within bound",
            delta_color="off" if records is None else "inverse" if records > settings.max_consumer_lag else "normal",
            delta_arrow="off",
            border=True,
            help=f"Log end offset minus the offsets the job's consumer group `{JOB_NAME}` committed on topic "
            f"`{settings.events_topic}` (Flink commits when a checkpoint completes). Every group: table below.",
        )
    counts = data.pipeline_counts()
    over = counts["dead_letters_24h"] is not None and counts["dead_letters_24h"] > settings.dead_letter_threshold
    c4.metric(
        "Dead letters (all time)",
        "no table" if counts["dead_letters"] is None else f"{counts['dead_letters']:,} records",
        delta=None if counts["dead_letters_24h"] is None else f"{counts['dead_letters_24h']:,} in the last 24 h",
        delta_color="inverse" if over else "off",
        delta_arrow="off",
        border=True,
        help="Kafka records the job could not decode (realtime.dead_letters); the 24-hour count is held against "
        f"the threshold of {settings.dead_letter_threshold} that the Dagster check uses.",
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
        if lag.empty:
            st.info("No consumer group has committed offsets on this topic yet.", icon=":material/info:")
        else:
            totals = lag.groupby("group", as_index=False)[["end_offset", "committed", "lag"]].sum()
            st.dataframe(
                totals,
                hide_index=True,
                width="stretch",
                column_config={
                    "group": st.column_config.TextColumn("consumer group"),
                    "end_offset": st.column_config.NumberColumn("log end offsets (sum)", format="%d"),
                    "committed": st.column_config.NumberColumn("committed offsets (sum)", format="%d"),
                    "lag": st.column_config.NumberColumn("lag (records)", format="%d"),
                },
                key="kafka-lag",
            )

    notifications()


def notifications() -> None:
    """The alert notifier's delivery log: what reached people, what is still retrying, what failed."""
    st.subheader("Alert notifications")
    log = data.notification_deliveries()
    if log is None:
        st.info("No delivery log in this database (notifier.deliveries): `streampulse stack up` creates it.")
        return
    counts, rows = log
    cols = st.columns(4)
    for col, status, help_ in (
        (cols[0], "delivered", "Accepted by the receiver."),
        (cols[1], "pending", "Waiting to be sent or retried (the receiver failed; retries back off)."),
        (cols[2], "failed", "Refused by the receiver for good, or retries ran out: the Dagster check fails."),
        (cols[3], "suppressed", "Not sent: a cool-down grouped it, or an acknowledgement silenced it."),
    ):
        col.metric(f"Notifications {status} (24 h)", f"{counts.get(status, 0):,}", border=True, help=help_)
    if rows.empty:
        st.info("No notifications yet: alerts are routed by the notifications file (docs/notifications.md).")
        return
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "created_at": st.column_config.DatetimeColumn("recorded (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "delivered_at": st.column_config.DatetimeColumn("delivered (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        },
        key="notifications",
    )


live()
