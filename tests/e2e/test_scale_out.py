"""Scale-out by configuration only: the unchanged job runs on a second, separately started Flink cluster
(JobManager + TaskManager from the same PyFlink wheel, other ports), at parallelism 2 over a 3-partition
topic, reading Kafka through a bootstrap *list*, and its tables reconcile exactly with the topic."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from flink_jobs import deploy
from flink_jobs.reconcile import reconcile
from flink_jobs.rest import FlinkRest
from generator.producer import EventProducer
from generator.run import RunConfig, run_generator
from generator.scenarios import load
from streampulse.flink_classpath import flink_home
from streampulse.settings import Settings
from streampulse.stack.components import flink_env, prepare_flink
from streampulse.stack.preflight import find_java
from streampulse.waiting import wait_until
from tests.e2e.helpers import T0, ms, send_clock

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]  # a second cluster + a submission

REST_PORT, RPC_PORT, BLOB_PORT = 28081, 26123, 26124


@pytest.fixture(scope="module")
def second_flink(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Flink session cluster, its own configuration and state, started and stopped here."""
    state = tmp_path_factory.mktemp("flink2")
    (state / "lib").symlink_to(stack.lib_dir)  # the same connector jars
    settings = stack.model_copy(
        update={"state_dir": state, "flink_rest_port": REST_PORT, "flink_rpc_port": RPC_PORT,
                "flink_blob_port": BLOB_PORT, "flink_taskmanager_slots": 2,
                # Not HA: with the stack's ZooKeeper and cluster id it would contend for the stack's leadership.
                "flink_high_availability": False}
    )  # fmt: skip
    prepare_flink(settings)
    env = {**os.environ, **flink_env(settings, find_java())}
    bin_dir = Path(flink_home()) / "bin"
    processes = [
        subprocess.Popen(["bash", str(bin_dir / script), "start-foreground"], env=env, start_new_session=True,
                         stdout=(state / f"{script}.log").open("w"), stderr=subprocess.STDOUT)
        for script in ("jobmanager.sh", "taskmanager.sh")
    ]  # fmt: skip
    url = f"http://{stack.bind_host}:{REST_PORT}"
    try:
        flink = FlinkRest(url, timeout_s=3)
        try:
            wait_until(lambda: flink.cluster_overview().get("slots-available", 0) >= 2, "the second Flink cluster",
                       timeout_s=240, retry_on=(httpx.HTTPError,))  # fmt: skip
        except TimeoutError:
            pytest.fail(f"the second Flink cluster did not start: {state}")
        yield url
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_the_job_runs_unchanged_on_another_cluster_with_parallelism_2_and_a_bootstrap_list(isolated, second_flink):
    host, port = isolated.settings.bind_host, isolated.settings.kafka_port
    bootstrap_list = f"{host}:{port},localhost:{port}"  # two addresses (of the one local broker)
    # The Settings alone choose the cluster, the brokers and the parallelism: the submission receives them.
    settings = isolated.scoped_settings().model_copy(
        update={"flink_rest_url": second_flink, "kafka_bootstrap_servers": bootstrap_list, "flink_parallelism": 2}
    )
    job_id = deploy.submit_in_subprocess(
        settings, topic=isolated.topic, database=isolated.database, job_name=isolated.job_name,
        alerts_topic=isolated.alerts_topic,
    )  # fmt: skip
    flink = FlinkRest(second_flink)
    try:
        deploy.wait_until_running(settings, job_id)
        job = flink.job(job_id)
        assert {v["parallelism"] for v in job["vertices"]} >= {2}, job["vertices"]
        # Not on the shared cluster: the configuration alone chose the cluster.
        shared = FlinkRest.from_settings(isolated.settings).jobs()
        assert job_id not in {j["jid"] for j in shared}

        run_generator(
            settings,
            RunConfig(rate=200, duration_s=6 * 60, seed=4242, start_ms=ms(T0), max_speed=True, record_labels=False,
                      scenarios=load(["cdn_outage:node=edge-us-east-1,start=60,duration=200"])),
        )  # fmt: skip
        producer = EventProducer(settings, isolated.topic)
        send_clock(producer, T0 + timedelta(minutes=6, seconds=10))
        producer.flush()
        start, end = T0, T0 + timedelta(minutes=6)
        report = None

        def reconciled() -> bool:
            nonlocal report
            report = reconcile(settings, isolated.topic, isolated.database, start, end)
            return report.ok

        with contextlib.suppress(TimeoutError):  # the assertion below shows the last report's differences
            wait_until(reconciled, "the reconciliation to pass", 240, interval_s=5)
        print(report.render())
        assert report.ok, report.render()
        assert report.kafka_events == 6 * 60 * 200
        compared = {t.table: t.compared for t in report.tables}
        assert compared["content_minute_stats"] > 1000 and compared["cdn_alerts"] > 0  # content rows, an alert
    finally:
        flink.cancel(job_id, check=False)
