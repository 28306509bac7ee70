"""The notifier against real receivers: an HTTP server (signed webhook, Slack-compatible) and an SMTP server,
the alerts written transactionally to a real Kafka topic, the notifier run as its own process.

Receivers that are down (connection refused, then 503s) and a notifier killed with SIGKILL lose nothing:
every notification arrives, and a duplicate carries the same idempotency key. Cool-down and acknowledgements
are checked on the receivers and in the delivery log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from confluent_kafka import Producer
from fastapi.testclient import TestClient
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from api.acks import acknowledge
from api.keys import create_key
from api.main import create_app
from notifier.alerts import Alert, alert_record
from notifier.channels import EMAIL_KEY_HEADER, KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from notifier.outbox import prune
from orchestration.notifications.checks import deliveries_healthy
from orchestration.resources import KafkaResource, PostgresResource
from streampulse.settings import REPO_ROOT, get_settings
from streampulse.waiting import wait_until
from tests.conftest import Isolated
from tests.e2e.receivers import HttpReceiver, SmtpReceiver, free_port

pytestmark = pytest.mark.stack
SECRET = "test-webhook-secret-" + uuid.uuid4().hex  # must never show in a log
T = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def alert(node: str, state: str, started: datetime, at: datetime, kind: str = "ERROR_RATE") -> Alert:
    return Alert(kind, node, state, started, at, node.split("-")[1].upper(), 0.42, "MAJOR")


def episode(node: str, started: datetime, minutes: int = 3) -> list[Alert]:
    """One anomaly: OPEN at its third bad minute, RESOLVED after `minutes` bad minutes."""
    return [alert(node, "OPEN", started, started + timedelta(minutes=3)),
            alert(node, "RESOLVED", started, started + timedelta(minutes=minutes))]  # fmt: skip


def produce(iso: Isolated, alerts: list[Alert], abort: list[Alert] = ()) -> None:
    """Like the Flink job: keyed by subject, in a transaction; `abort` in a second one that is aborted."""
    producer = Producer({"bootstrap.servers": iso.settings.bootstrap_servers,
                         "transactional.id": f"test-alerts-{uuid.uuid4().hex[:8]}"})  # fmt: skip
    producer.init_transactions(30)
    for batch, commit in ((abort, False), (alerts, True)):
        if not batch:
            continue
        producer.begin_transaction()
        for a in batch:
            producer.produce(iso.alerts_topic, key=a.subject.encode(), value=alert_record(a))
        producer.flush(30)
        producer.commit_transaction(30) if commit else producer.abort_transaction(30)


class Notifier:
    """`python -m notifier run` as its own process, on this test's topic and database."""

    def __init__(self, iso: Isolated, rules: dict, tmp: Path, smtp_port: int, slack_url: str = "http://127.0.0.1:9/"):
        (tmp / "rules.yaml").write_text(yaml.safe_dump(rules))
        self.iso, self.log, self.port = iso, tmp / "notifier.log", free_port()
        self.env = {
            **os.environ, "STREAMPULSE_NOTIFICATIONS_FILE": str(tmp / "rules.yaml"),
            "STREAMPULSE_ALERTS_TOPIC": iso.alerts_topic, "STREAMPULSE_NOTIFIER_PORT": str(self.port),
            "STREAMPULSE_SMTP_HOST": "127.0.0.1", "STREAMPULSE_SMTP_PORT": str(smtp_port),
            "STREAMPULSE_SMTP_USERNAME": "streampulse", "STREAMPULSE_SMTP_PASSWORD": "smtp-" + SECRET,
            "TEST_WEBHOOK_SECRET": SECRET,
            "TEST_SLACK_URL": slack_url,
        }  # fmt: skip
        if iso.settings.database_external:
            self.env["DATABASE_URL"] = iso.dsn()
        else:
            self.env["STREAMPULSE_DATABASE_NAME"] = iso.database
        self.group = f"test-notifier-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Notifier:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "notifier", "run", "--group-id", self.group],
                                         cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200,
                   "the notifier's /health", 60, 0.5, retry_on=(httpx.HTTPError,))  # fmt: skip
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            assert self.proc.wait(30) == 0, self.log.read_text()[-3000:]


def deliveries(iso: Isolated) -> list[dict]:
    with psycopg.connect(iso.dsn(), autocommit=True) as conn:
        cur = conn.execute("select * from notifier.deliveries order by id")
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def rules(webhook: HttpReceiver, smtp_to: str = "oncall@example.com", cooldown: float = 30, **extra) -> dict:
    return {
        "channels": {
            "ops-webhook": {"type": "webhook", "url": webhook.url("/hook"), "secret_env": "TEST_WEBHOOK_SECRET"},
            "chat": {"type": "slack", "url_env": "TEST_SLACK_URL"},
            "oncall": {"type": "email", "to": [smtp_to]},
        },
        "routes": [
            {"name": "everything", "channels": ["ops-webhook", "chat"]},
            {"name": "critical-mail", "match": {"min_severity": "MAJOR"}, "channels": ["oncall", "ops-webhook"]},
        ],
        "defaults": {"cooldown_minutes": cooldown, "retry_max_backoff_s": 2},
        **extra,
    }


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, HttpReceiver, SmtpReceiver]]:
    hook, slack, smtp = (
        HttpReceiver(fail_first=3),
        HttpReceiver(),
        SmtpReceiver(credentials=("streampulse", "smtp-" + SECRET)),
    )
    yield hook, slack, smtp
    for r in (hook, slack, smtp):
        r.stop()


def test_receivers_down_then_back_get_every_notification_once_per_key(isolated, receivers, tmp_path):
    hook, slack, smtp = receivers
    slack.start()  # up; the webhook and the mail server are down at first
    notifier = Notifier(isolated, rules(hook), tmp_path, smtp.port, slack_url=slack.url("/slack")).start()
    nodes = [f"edge-de-fra-{i}" for i in range(1, 6)]
    sent = [a for i, node in enumerate(nodes) for a in episode(node, T + timedelta(minutes=i))]
    produce(isolated, sent, abort=episode("edge-xx-aborted-1", T))
    keys = {a.idempotency_key for a in sent}
    try:
        # Recorded for every channel; the ones to dead receivers fail and are retried.
        wait_until(lambda: len(deliveries(isolated)) == 3 * len(sent), "every delivery recorded", 60, 0.5)
        # A RESOLVED waits for its OPEN on the same channel: only the OPENs are attempted meanwhile.
        down = [d for d in deliveries(isolated) if d["channel"] != "chat"]
        wait_until(lambda: all(d["attempts"] >= 2 for d in deliveries(isolated) if d["channel"] != "chat"
                               and d["state"] == "OPEN"), "retries against the dead receivers", 60, 0.5)  # fmt: skip
        assert all(d["attempts"] == 0 for d in down if d["state"] == "RESOLVED")
        wait_until(lambda: {r.headers[KEY_HEADER] for r in slack.requests} == keys, "the Slack messages", 30, 0.5)
        # Killed mid-way (no clean stop), then the receivers come back and the notifier restarts.
        notifier.kill()
        # Alerts written while the notifier is dead are read from its committed offsets when it is back.
        later = [a for i, node in enumerate(nodes[:2]) for a in episode(node, T + timedelta(minutes=40 + i))]
        produce(isolated, later)
        sent += later
        keys |= {a.idempotency_key for a in later}
        hook.start()
        smtp.start()
        notifier.start()
        wait_until(lambda: [d["status"] for d in deliveries(isolated)] == ["delivered"] * 3 * len(sent),
                   "all delivered", 120, 1)  # fmt: skip
    finally:
        notifier.stop()

    rows = deliveries(isolated)
    assert len(rows) == 3 * len(sent)  # the re-read after the kill recorded nothing twice
    assert hook.refused == 3  # the 503s were retried
    # Webhook: every key arrived; a duplicate (two routes, or a retry) has the same key; signed; ordered.
    got = [json.loads(r.body) for r in hook.requests]
    assert {g["idempotency_key"] for g in got} == keys
    for request, body in zip(hook.requests, got, strict=True):
        assert request.headers[KEY_HEADER] == body["idempotency_key"]
        assert verify(SecretStr(SECRET), request.headers[TIMESTAMP_HEADER], request.body,
                      request.headers[SIGNATURE_HEADER])  # fmt: skip
    for node in nodes:
        states = [g["state"] for g in got if g["subject"] == node]
        assert states.index("OPEN") < states.index("RESOLVED"), states
    # Slack-compatible: a text and blocks, the key in a context block.
    bodies = [json.loads(r.body) for r in slack.requests]
    assert all(b["text"] and b["blocks"] for b in bodies)
    assert any("opened on edge-de-fra-1" in b["text"] for b in bodies)
    # Email: one message per key (the same Message-ID on any retry), to the route's recipients.
    mail_keys = [m[EMAIL_KEY_HEADER] for m in smtp.messages]
    assert set(mail_keys) == keys
    assert all(m["To"] == "oncall@example.com" and m["Message-ID"] for m in smtp.messages)
    by_key = {}
    for m in smtp.messages:
        assert by_key.setdefault(m[EMAIL_KEY_HEADER], m["Message-ID"]) == m["Message-ID"]
    # The aborted transaction's alerts were never read (read_committed).
    assert not any("aborted" in d["subject"] for d in rows)
    # No secret in the notifier's log.
    assert SECRET not in notifier.log.read_text()


def test_a_flapping_node_pages_once_and_an_acknowledgement_silences_its_repeats(isolated, receivers, tmp_path):
    hook, _, smtp = receivers
    hook.fail_first = 0
    hook.start()
    smtp.start()
    # Cool-down 30 s of event time: alerts a few seconds apart fall within it.
    config = rules(hook, cooldown=0.5)
    config["routes"] = [{"name": "hook", "channels": ["ops-webhook"]}]
    notifier = Notifier(isolated, config, tmp_path, smtp.port).start()
    s = timedelta(seconds=1)
    try:
        # Flapping: five anomalies 4 s apart, each resolved 2 s after it opened, then a sixth after the cool-down
        # (sent, telling that four were grouped since the last notification).
        flap = [
            a
            for start in (0, 4, 8, 12, 16, 40)
            for a in (alert("edge-fr-par-1", "OPEN", T + start * s, T + start * s),
                      alert("edge-fr-par-1", "RESOLVED", T + start * s, T + (start + 2) * s))
        ]  # fmt: skip
        # Two nodes with a second anomaly inside the cool-down that stays open: held, then sent once the
        # cool-down ends (about 20 s) unless the first one was acknowledged.
        first = [alert(node, "OPEN", T, T + s) for node in ("edge-gb-lon-1", "edge-gb-lon-2")]
        produce(isolated, flap + first)
        wait_until(lambda: len(hook.requests) == 6, "the flap's first and last, both first OPENs", 60, 0.5)
        produce(isolated, [alert(node, "OPEN", T + 10 * s, T + 11 * s) for node in ("edge-gb-lon-1", "edge-gb-lon-2")])
        wait_until(lambda: sum(d["status"] == "held" for d in deliveries(isolated)) == 2, "two held", 30, 0.5)
        # Acknowledged while its repeat is held: the repeat is silenced when the cool-down ends.
        with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
            # The job's row for the anomaly (only existing anomalies can be acknowledged), then the dashboard's act.
            conn.execute("insert into realtime.cdn_alerts values ('ERROR_RATE', 'edge-gb-lon-1', %s, %s, 'GB', 0.42,"
                         " 'MAJOR')", (T, T + s))  # fmt: skip
            assert acknowledge(conn, "ERROR_RATE", "edge-gb-lon-1", T, "test")
        wait_until(lambda: not any(d["status"] == "held" for d in deliveries(isolated))
                   and len(deliveries(isolated)) == 16, "the held OPENs decided", 90, 1)  # fmt: skip
        wait_until(lambda: len(hook.requests) == 7, "the unacknowledged repeat sent", 30, 0.5)
    finally:
        notifier.stop()

    got = [(json.loads(r.body)["subject"], json.loads(r.body)["state"], json.loads(r.body)["started_at"])
           for r in hook.requests]  # fmt: skip
    flap_got = [g for g in got if g[0] == "edge-fr-par-1"]
    assert [g[1] for g in flap_got] == ["OPEN", "RESOLVED", "OPEN", "RESOLVED"]  # twelve would-be pages, four
    flap_opens = [json.loads(r.body) for r in hook.requests if b'"edge-fr-par-1"' in r.body and b'"OPEN"' in r.body]
    assert [o["grouped_since_last"] for o in flap_opens] == [0, 4]
    rows = {(d["subject"], d["state"], d["started_at"]): d for d in deliveries(isolated)}
    flap_rows = [d for d in rows.values() if d["subject"] == "edge-fr-par-1"]
    assert Counter(d["status"] for d in flap_rows) == {"delivered": 4, "suppressed": 8}
    assert rows[("edge-gb-lon-1", "OPEN", T + 10 * s)]["status"] == "suppressed"
    assert rows[("edge-gb-lon-1", "OPEN", T + 10 * s)]["reason"] == "acknowledged"
    repeat = rows[("edge-gb-lon-2", "OPEN", T + 10 * s)]
    assert (repeat["status"], repeat["reason"]) == ("delivered", "still open after the cool-down")

    # The delivery log through the API, as the read-only role.
    with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
        headers = {"X-API-Key": create_key(conn, "notifier test", ["read"])}
    with TestClient(create_app(dsn=isolated.dsn(), settings=isolated.scoped_settings())) as client:
        url = "/v1/notifications/deliveries"
        body = client.get(url, params={"status": "suppressed"}, headers=headers).json()
        assert len(body["items"]) == 9 and body["next_cursor"] is None
        assert {i["reason"] for i in body["items"]} >= {"acknowledged", "resolved during the cool-down"}
        pages, params = [], {"limit": 5}
        while True:
            page = client.get(url, params=params, headers=headers).json()
            pages.append([i["id"] for i in page["items"]])
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        ids = [i for p in pages for i in p]
        assert [len(p) for p in pages] == [5, 5, 5, 1] and ids == sorted(ids, reverse=True)
        assert len(client.get(url, params={"anomaly_id": repeat["anomaly_id"]}, headers=headers).json()["items"]) == 1
        assert client.get(url, params={"status": "lost"}, headers=headers).status_code == 422
        assert client.get(url).status_code == 401

    # ... and on the dashboard's Pipeline page.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", isolated.dsn())
        get_settings.cache_clear()
        try:
            at = AppTest.from_file(str(REPO_ROOT / "streamlit_app" / "streamlit_app.py"), default_timeout=90).run()
            at.switch_page("views/pipeline.py").run()
            assert not at.exception, [e.value for e in at.exception]
            shown = {m.label: m.value for m in at.metric}
            assert shown["Notifications delivered (24 h)"] == "7" and shown["Notifications suppressed (24 h)"] == "9"
            assert shown["Notifications failed (24 h)"] == "0"
            table = next(d.value for d in at.dataframe if "idempotency_key" in d.value)
            assert len(table) == 16 and set(table["status"]) == {"delivered", "suppressed"}
        finally:
            get_settings.cache_clear()


def test_failed_and_lagging_deliveries_turn_the_dagster_check_red(isolated, receivers, tmp_path):
    hook, _, smtp = receivers
    hook.fail_first, hook.fail_status = 1, 404  # refused: retrying cannot help
    hook.start()
    config = rules(hook)
    config["routes"] = [{"name": "hook", "channels": ["ops-webhook"]}]
    notifier = Notifier(isolated, config, tmp_path, smtp.port).start()
    postgres = PostgresResource(database=isolated.database)
    kafka = KafkaResource(bootstrap_servers=isolated.settings.bootstrap_servers, events_topic=isolated.topic,
                          alerts_topic=isolated.alerts_topic)  # fmt: skip
    try:
        produce(isolated, [alert("edge-it-mil-1", "OPEN", T, T + 3 * MINUTE)])
        wait_until(lambda: [d["status"] for d in deliveries(isolated)] == ["failed"], "a refused delivery", 30, 0.5)
        result = deliveries_healthy(postgres=postgres, kafka=kafka)
        assert not result.passed and result.metadata["failed_24h"].value == 1
        assert "HTTP 404" in result.description
        # Once answered, a new notification is delivered; the refused one still fails the check for 24 h.
        produce(isolated, [alert("edge-it-mil-2", "OPEN", T, T + 3 * MINUTE)])
        wait_until(lambda: len(hook.requests) == 1, "the next one delivered", 30, 0.5)
        with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
            conn.execute("update notifier.deliveries set status = 'delivered' where status = 'failed'")
            assert deliveries_healthy(postgres=postgres, kafka=kafka).passed
            # A pending delivery recorded long ago is lagging.
            conn.execute("update notifier.deliveries set status = 'pending', next_attempt_at = now() + interval '1 h',"
                         " created_at = now() - interval '1 hour' where subject = 'edge-it-mil-1'")  # fmt: skip
        result = deliveries_healthy(postgres=postgres, kafka=kafka)
        assert not result.passed and result.metadata["lagging"].value == 1
        # An alert two days old when read (a first start on a topic with history) is recorded, not sent.
        old = T - timedelta(days=2)
        produce(isolated, [alert("edge-it-mil-3", "OPEN", old, old + 3 * MINUTE)])
        wait_until(lambda: [(d["status"], d["reason"]) for d in deliveries(isolated) if d["subject"] == "edge-it-mil-3"]
                   == [("suppressed", "older than 24 h when read")], "the stale alert recorded", 30, 0.5)  # fmt: skip
        assert len(hook.requests) == 1
        # Retention: finished deliveries older than keep_days are deleted, pending ones kept.
        with psycopg.connect(isolated.dsn(), autocommit=True) as conn:
            conn.execute("update notifier.deliveries set created_at = now() - interval '31 days'")
            assert prune(conn, 30) == 2  # the delivered one and the stale one
            assert [d["subject"] for d in deliveries(isolated)] == ["edge-it-mil-1"]  # pending
    finally:
        notifier.stop()
