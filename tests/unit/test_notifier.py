"""The notifier's rules without services: routing, cool-down and grouping, HMAC signing, the Slack payload,
the email's idempotency headers, and secrets that stay out of texts."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr, ValidationError

from notifier.alerts import Alert, alert_record, parse_alert
from notifier.channels import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    alert_email,
    message_id,
    sign,
    slack_payload,
    verify,
    webhook_request,
)
from notifier.grouping import backoff, decide_open, decide_release, decide_resolved
from notifier.rules import NotificationConfig, load_config
from streampulse.settings import REPO_ROOT, Settings

T = datetime(2026, 1, 1, 0, 3, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def alert(subject: str = "edge-de-fra-1", state: str = "OPEN", kind: str = "ERROR_RATE", region: str = "DE",
          severity: str = "MAJOR") -> Alert:  # fmt: skip
    return Alert(kind, subject, state, T, T + 3 * MIN, region, 0.3, severity)


CONFIG = {
    "channels": {
        "hook": {"type": "webhook", "url": "https://example.com/hook", "secret_env": "HOOK_SECRET"},
        "chat": {"type": "slack", "url_env": "SLACK_URL"},
        "mail": {"type": "email", "to": ["oncall@example.com"]},
    },
    "routes": [
        {"name": "de-critical", "match": {"regions": ["DE"], "min_severity": "CRITICAL"}, "channels": ["mail", "hook"]},
        {"name": "fra-nodes", "match": {"nodes": ["edge-de-fra-*"], "kinds": ["ERROR_RATE"]}, "channels": ["chat"]},
        {
            "name": "outages",
            "match": {"kinds": ["REGIONAL_OUTAGE"], "severities": ["MAJOR"]},
            "channels": ["hook"],
            "states": ["OPEN"],
        },
        {"name": "all", "channels": ["hook"]},
    ],
    "reports": {"channels": ["mail", "hook"]},
}
ENV = {"HOOK_SECRET": "s3cret", "SLACK_URL": "https://hooks.example.com/T000/B000/XXXX"}


def config(raw: dict = CONFIG) -> NotificationConfig:
    return NotificationConfig.model_validate(raw).resolve_secrets(ENV)


def routed(a: Alert) -> dict[str, str]:
    return {channel: route.name for route, channel in config().route(a)}


# ----- routing -----------------------------------------------------------------------------------------------


def test_routes_by_kind_severity_region_and_node_and_each_channel_once():
    assert routed(alert(severity="CRITICAL")) == {"mail": "de-critical", "hook": "de-critical", "chat": "fra-nodes"}
    assert routed(alert(severity="MAJOR")) == {"chat": "fra-nodes", "hook": "all"}
    assert routed(alert(subject="edge-de-ber-1")) == {"hook": "all"}  # node pattern does not match
    assert routed(alert(kind="LATENCY")) == {"hook": "all"}  # kind does not match
    assert routed(alert(region="FR", subject="edge-fr-par-1", severity="CRITICAL")) == {"hook": "all"}


def test_a_regional_outage_has_no_node_and_a_route_can_take_one_state():
    outage = alert(subject="BR", kind="REGIONAL_OUTAGE", region="BR")
    assert routed(outage) == {"hook": "outages"}
    assert routed(alert(subject="BR", kind="REGIONAL_OUTAGE", region="BR", state="RESOLVED")) == {"hook": "all"}
    only_nodes = NotificationConfig.model_validate({**CONFIG, "routes": [CONFIG["routes"][1]]}).resolve_secrets(ENV)
    assert only_nodes.route(outage) == []


def test_the_file_is_checked_for_unknown_channels_fields_and_missing_secrets(tmp_path):
    with pytest.raises(ValidationError, match="unknown channel 'pager'"):
        NotificationConfig.model_validate({**CONFIG, "routes": [{"name": "x", "channels": ["pager"]}]})
    with pytest.raises(ValidationError, match="Slack"):
        NotificationConfig.model_validate({**CONFIG, "reports": {"channels": ["chat"]}})
    with pytest.raises(ValidationError, match="min_severity"):
        NotificationConfig.model_validate({**CONFIG, "routes": [{"name": "x", "channels": ["hook"],
                                                                  "match": {"min_severity": "HUGE"}}]})  # fmt: skip
    with pytest.raises(ValueError, match="HOOK_SECRET is not set"):
        NotificationConfig.model_validate(CONFIG).resolve_secrets({"SLACK_URL": "x"})
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps(CONFIG))  # JSON is YAML
    assert [r.name for r in load_config(path, ENV).routes] == ["de-critical", "fra-nodes", "outages", "all"]
    assert load_config(None).route(alert()) == []  # no file: nothing is sent


def test_secrets_do_not_show_in_the_config_or_its_repr():
    text = repr(config()) + str(config().model_dump())
    assert "s3cret" not in text and "XXXX" not in text


# ----- grouping, cool-down, acknowledgements ----------------------------------------------------------------


def test_cool_down_holds_a_repeat_until_it_ends_and_lets_the_next_one_through():
    cooldown = 30 * MIN
    assert decide_open(T, None, False, cooldown).status == "pending"
    held = decide_open(T + 10 * MIN, T, False, cooldown)
    assert (held.status, held.hold_for) == ("held", 20 * MIN)
    assert decide_open(T + 30 * MIN, T, False, cooldown).status == "pending"
    assert decide_open(T, T, False, timedelta(0)).status == "pending"  # no cool-down


def test_an_acknowledgement_silences_and_a_resolved_follows_its_open():
    assert decide_open(T, None, True, 30 * MIN).reason == "acknowledged"
    assert decide_release(True).status == "suppressed"
    assert decide_release(False).status == "pending"
    for open_status, want in ((None, "pending"), ("pending", "pending"), ("delivered", "pending"),
                              ("failed", "pending"), ("held", "suppressed"), ("suppressed", "suppressed")):  # fmt: skip
        assert decide_resolved(open_status).status == want, open_status


def test_a_flapping_node_sends_once_per_cool_down():
    """Twenty anomalies, one every 5 minutes for 100 minutes, each over before the next: with a 30-minute
    cool-down only every seventh is sent (the held ones resolve before it ends)."""
    sent, last = [], None
    for i in range(20):
        at = T + 5 * i * MIN
        if decide_open(at, last, False, 30 * MIN).status == "pending":
            sent.append(i)
            last = at
    assert sent == [0, 6, 12, 18]


def test_retries_back_off_exponentially_up_to_the_cap():
    assert [backoff(n, 300).total_seconds() for n in (1, 2, 3, 4, 8, 9, 20)] == [2, 4, 8, 16, 256, 300, 300]


# ----- payloads --------------------------------------------------------------------------------------------


def test_webhook_is_signed_with_hmac_sha256_over_timestamp_and_body():
    a = alert()
    headers, body = webhook_request(a.payload(), a.idempotency_key, SecretStr("s3cret"), now=1767225600)
    assert headers[KEY_HEADER] == "ERROR_RATE:edge-de-fra-1:20260101T000300Z:OPEN"
    assert headers[TIMESTAMP_HEADER] == "1767225600"
    want = hmac.new(b"s3cret", b"1767225600." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={want}"
    assert verify(SecretStr("s3cret"), "1767225600", body, headers[SIGNATURE_HEADER])
    assert not verify(SecretStr("other"), "1767225600", body, headers[SIGNATURE_HEADER])
    assert not verify(SecretStr("s3cret"), "1767225601", body, headers[SIGNATURE_HEADER])
    assert json.loads(body)["idempotency_key"] == headers[KEY_HEADER]
    assert sign(SecretStr("k"), "1", b"{}") == "sha256=" + hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()


def test_slack_payload_has_text_blocks_and_the_key():
    payload = slack_payload(alert(state="RESOLVED", severity="CRITICAL"))
    assert (
        payload["text"]
        == ":large_green_circle: [CRITICAL] ERROR_RATE resolved on edge-de-fra-1 (DE), peak 30.0% errors"
    )
    assert [b["type"] for b in payload["blocks"]] == ["section", "section", "context"]
    assert "ERROR_RATE:edge-de-fra-1:20260101T000300Z:RESOLVED" in payload["blocks"][2]["elements"][0]["text"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in payload["blocks"][1]["fields"]}
    assert fields["*Ended*"] == "2026-01-01T00:06:00Z" and fields["*Region*"] == "DE"
    assert "ms p95" in slack_payload(alert(kind="LATENCY"))["text"]
    grouped = slack_payload(dataclasses.replace(alert(), grouped=3))["text"]
    assert grouped.endswith("peak 30.0% errors (+3 more since the last notification)")


def test_email_carries_the_key_and_a_message_id_derived_from_it():
    settings = Settings(smtp_from="alerts@example.com")
    channel = config().channels["mail"]
    long = alert(subject="edge-" + "x" * 60)
    msg = alert_email(settings, channel, long)
    assert msg["Idempotency-Key"] == long.idempotency_key and msg["To"] == "oncall@example.com"
    assert msg["Message-ID"] == message_id(long.idempotency_key) == alert_email(settings, channel, long)["Message-ID"]
    assert long.idempotency_key + "\r\n" in msg.as_string()  # one line: not folded


def test_the_alert_record_round_trips():
    a = alert()
    assert parse_alert(alert_record(a)) == a
    raw = (
        b'{"subject":"n","anomaly_kind":"LATENCY","state":"OPEN","started_at":"2026-01-01T00:03:00",'
        b'"at_time":"2026-01-01T00:06:00","region":"DE","peak_value":700.0,"severity":"MINOR"}'
    )
    assert parse_alert(raw).at == T + 3 * MIN
    with pytest.raises(ValueError):
        parse_alert(b'{"subject": "n"}')
    with pytest.raises(ValueError):
        parse_alert(alert_record(alert(state="MAYBE")))


def test_the_example_file_is_valid():
    env = {"STREAMPULSE_OPS_WEBHOOK_SECRET": "x", "STREAMPULSE_SLACK_WEBHOOK_URL": "https://h/x"}
    example = load_config(REPO_ROOT / "notifier" / "notifications.example.yaml", env)
    assert {c for _, c in example.route(alert(severity="CRITICAL"))} == {"oncall", "ops-webhook", "cdn-chat"}
    assert example.reports.channels == ["managers", "ops-webhook"]


def test_the_service_outlives_an_unreachable_database_and_stops_on_request():
    import threading
    import time

    import psycopg

    from notifier.service import Status, run_forever

    settings = Settings(
        database_url=SecretStr("postgresql://u:p@127.0.0.1:1/db"), kafka_bootstrap_servers="127.0.0.1:1"
    )
    stop, status, errors = threading.Event(), Status(), []

    def target() -> None:
        try:
            run_forever(settings, NotificationConfig(), stop, status=status, max_wait_s=0.2)
        except psycopg.OperationalError as exc:  # raised once the stop request ends the retries
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        time.sleep(2)
        assert thread.is_alive() and status.error == "OperationalError" and not status.healthy()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and len(errors) == 1


def test_the_stack_runs_the_notifier_as_an_app_after_the_core(tmp_path):
    from pathlib import Path

    from streampulse.stack.components import APPS, CORE, build_components
    from streampulse.stack.preflight import Java

    # External Kafka and registry: their local commands need the downloaded jars.
    settings = Settings(
        state_dir=tmp_path,
        notifier_port=8099,
        kafka_bootstrap_servers="kafka.example:9092",
        schema_registry_url="http://registry.example:8085",
    )
    components = build_components(settings, Java(executable=Path("/usr/bin/java"), home=Path("/usr"), major=17))
    names = [c.name for c in components]
    notifier = components[names.index("notifier")]
    assert notifier.group == APPS and notifier.command[-3:] == ["-m", "notifier", "run"]
    assert (notifier.port, notifier.port_setting) == (8099, "STREAMPULSE_NOTIFIER_PORT")
    assert all(names.index(c.name) < names.index("notifier") for c in components if c.group == CORE)
