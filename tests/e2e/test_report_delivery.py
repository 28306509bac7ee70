"""The daily report delivered by its Dagster asset to a real SMTP server and a real HTTP receiver; a receiver
that does not take it fails the run, naming the channel."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date

import pytest
import yaml
from dagster import AssetMaterialization, DagsterInstance, materialize
from pydantic import SecretStr

from notifier.channels import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from orchestration.reports.assets import daily_bi_report
from orchestration.reports.delivery import daily_bi_report_delivery
from streampulse.settings import get_settings
from tests.e2e.receivers import HttpReceiver, SmtpReceiver, free_port

DAY = date(2026, 1, 2)
SECRET = "report-webhook-secret"
FILES = {
    "report.html": "<html><body><h1>Daily report 2026-01-02</h1></body></html>",
    "daily_kpis.csv": "day,events\n2026-01-02,1500\n",
    "cdn_sla.csv": "cdn_node,availability\nedge-1,0.99\n",
}


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    hook, smtp = HttpReceiver().start(), SmtpReceiver().start()
    yield hook, smtp
    hook.stop()
    smtp.stop()


def setup(tmp_path, monkeypatch, hook_url: str, smtp_port: int) -> DagsterInstance:  # noqa: ANN001
    """The notifications file and SMTP server as settings, a report folder, and its materialization recorded."""
    folder = tmp_path / "reports" / DAY.isoformat()
    folder.mkdir(parents=True)
    for name, text in FILES.items():
        (folder / name).write_text(text)
    rules = {
        "channels": {
            "managers": {"type": "email", "to": ["content@example.com", "cdn@example.com"]},
            "archive": {"type": "webhook", "url": hook_url, "secret_env": "TEST_REPORT_SECRET"},
        },
        "reports": {"channels": ["managers", "archive"]},
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    monkeypatch.setenv("STREAMPULSE_NOTIFICATIONS_FILE", str(tmp_path / "rules.yaml"))
    monkeypatch.setenv("TEST_REPORT_SECRET", SECRET)
    monkeypatch.setenv("STREAMPULSE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("STREAMPULSE_SMTP_PORT", str(smtp_port))
    get_settings.cache_clear()
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        AssetMaterialization(
            daily_bi_report.key, partition=DAY.isoformat(), metadata={"path": str(folder / "report.html")}
        )  # fmt: skip
    )
    return instance


def test_the_report_reaches_email_and_webhook_recipients(receivers, tmp_path, monkeypatch):
    hook, smtp = receivers
    instance = setup(tmp_path, monkeypatch, hook.url("/reports"), smtp.port)
    try:
        result = materialize([daily_bi_report_delivery], partition_key=DAY.isoformat(), instance=instance)
    finally:
        get_settings.cache_clear()
    assert result.success
    [mail] = smtp.messages
    assert mail["To"] == "content@example.com, cdn@example.com" and mail["Idempotency-Key"] == "report:2026-01-02"
    assert "2026-01-02" in mail["Subject"]
    assert "<h1>Daily report 2026-01-02</h1>" in mail.get_body(("html",)).get_content()
    attached = {a.get_filename(): a.get_content() for a in mail.iter_attachments()}
    assert attached == FILES
    [request] = hook.requests
    assert verify(SecretStr(SECRET), request.headers[TIMESTAMP_HEADER], request.body, request.headers[SIGNATURE_HEADER])
    body = json.loads(request.body)
    assert request.headers[KEY_HEADER] == body["idempotency_key"] == "report:2026-01-02"
    assert {f["name"]: base64.b64decode(f["content_base64"]).decode() for f in body["files"]} == FILES
    assert body["files"][0]["name"] == "report.html"


def test_a_receiver_that_does_not_take_the_report_fails_the_run(receivers, tmp_path, monkeypatch):
    _, smtp = receivers
    instance = setup(tmp_path, monkeypatch, f"http://127.0.0.1:{free_port()}/down", smtp.port)
    try:
        result = materialize([daily_bi_report_delivery], partition_key=DAY.isoformat(), instance=instance,
                             raise_on_error=False)  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "archive: HTTP: ConnectError" in failure.event_specific_data.error.message
    assert len(smtp.messages) == 1  # the other channel still got it
