"""Deploying the job: the Settings reach the submission whole (no round trip through flags or the environment),
and retention never touches local folders of an external cluster."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess

import pytest

from flink_jobs import deploy, runner, savepoints
from orchestration.resources import FlinkResource, KafkaResource, PostgresResource
from orchestration.streaming.assets import submit_job
from streampulse.settings import Settings, get_settings


@pytest.fixture
def child(monkeypatch):
    """Run the submission's child side in this process: what it would submit is recorded, nothing is."""
    submitted: list[tuple[Settings, deploy.JobSpec]] = []

    def fake_run(args, input, stdout, stderr, text, timeout, start_new_session):  # noqa: A002 - subprocess.run's
        assert start_new_session, "the submission must outlive a crashed caller"
        assert args[1:] == ["-m", "flink_jobs.deploy"] and "--" not in " ".join(args), "no flags: stdin only"
        out = io.StringIO()
        monkeypatch.setattr("sys.stdin", io.StringIO(input))
        monkeypatch.setattr("sys.stdout", out)
        deploy._submit_from_stdin()
        return subprocess.CompletedProcess(args, 0, stdout=out.getvalue())

    monkeypatch.setattr(deploy.subprocess, "run", fake_run)
    monkeypatch.setattr(deploy, "submit", lambda settings, spec: submitted.append((settings, spec)) or "job-1")
    monkeypatch.setattr(deploy, "wait_until_running", lambda settings, job_id, timeout_s=180: None)
    monkeypatch.setattr(deploy, "submission_lock", lambda settings, job_name: contextlib.nullcontext())
    monkeypatch.setattr(deploy.FlinkRest, "active_job", lambda self, name: None)
    return submitted


def test_a_per_run_override_given_to_the_deploy_asset_reaches_the_submitted_job(child, monkeypatch, tmp_path, request):
    # The environment names other endpoints: the child must not read them back from there.
    monkeypatch.setenv("STREAMPULSE_FLINK_REST_URL", "http://flink.from-env:8081")
    monkeypatch.setenv("STREAMPULSE_KAFKA_BOOTSTRAP_SERVERS", "kafka.from-env:9092")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p%40ss@db.example:5432/sp")
    monkeypatch.setenv("STREAMPULSE_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()  # the resources' base Settings come from this environment
    request.addfinalizer(get_settings.cache_clear)
    flink = FlinkResource(rest_url="http://flink.override:8081", job_name="job-override")
    kafka = KafkaResource(bootstrap_servers="kafka-a:9092,kafka-b:9092", events_topic="ev", alerts_topic="al")
    postgres = PostgresResource(database="other_db")

    assert submit_job(flink, kafka, postgres, start_from="file:///sp/chk-7") == "job-1"

    [(settings, spec)] = child
    assert settings.flink_url == "http://flink.override:8081"
    assert settings.bootstrap_servers == "kafka-a:9092,kafka-b:9092"
    assert settings.flink_job_name == "job-override"
    assert (spec.topic, spec.alerts_topic, spec.database, spec.job_name) == ("ev", "al", "other_db", "job-override")
    assert spec.from_checkpoint == "file:///sp/chk-7"
    values = runner.placeholders(settings, spec.topic, spec.database, spec.job_name, spec.alerts_topic)
    assert values["bootstrap_servers"] == "kafka-a:9092,kafka-b:9092"
    assert "db.example:5432/other_db" in values["jdbc_sink_options"]
    assert "'password' = 'p@ss'" in values["jdbc_sink_options"]  # the secret travelled (on stdin, not argv)


def test_the_child_gets_every_setting_including_secrets():
    settings = Settings(database_url="postgresql://u:s3cret@db:5432/sp", flink_parallelism=3, trending_top_n=7)
    payload = json.loads(json.dumps(deploy.settings_payload(settings), default=str))
    again = Settings(**payload)
    assert again.dsn() == settings.dsn() and again.flink_parallelism == 3 and again.trending_top_n == 7


def test_retention_refuses_to_touch_local_folders_when_flink_is_external(tmp_path):
    folder = tmp_path / "data" / "flink" / "checkpoints" / f"{1:032x}"
    folder.mkdir(parents=True)
    settings = Settings(state_dir=tmp_path, flink_rest_url="http://flink.example:8081")
    with pytest.raises(savepoints.ExternalFlinkError, match="refused"):
        savepoints.prune_retained_state(settings, max_age_s=0, keep_savepoints=0)
    assert folder.exists()
