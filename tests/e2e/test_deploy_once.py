"""A job name is submitted once, however many deploys race: the guard that lets a submission outlive a
crashed Dagster run worker without a redeploy asked for meanwhile submitting the job a second time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flink_jobs import deploy
from flink_jobs.rest import ACTIVE_STATES, FlinkRest
from tests.conftest import Isolated


def test_racing_deploys_submit_the_job_once(isolated: Isolated):
    settings = isolated.settings
    spec = {"topic": isolated.topic, "database": isolated.database, "job_name": isolated.job_name,
            "alerts_topic": isolated.alerts_topic}  # fmt: skip
    flink = FlinkRest.from_settings(settings)
    try:
        with ThreadPoolExecutor(2) as pool:
            ids = list(pool.map(lambda _: deploy.submit_in_subprocess(settings, **spec), range(2)))
        active = [j["jid"] for j in flink.jobs() if j["name"] == isolated.job_name and j["state"] in ACTIVE_STATES]
        assert len(active) == 1, f"{len(active)} active jobs named {isolated.job_name}"
        assert ids == active * 2  # the second deploy waited for the first and returned its job
    finally:
        for job in flink.jobs():
            if job["name"] == isolated.job_name and job["state"] in ACTIVE_STATES:
                flink.cancel(job["jid"])
