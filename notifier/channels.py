"""Sending one notification (or a report) to one channel: signed webhook, Slack-compatible webhook, email.

Every send carries the idempotency key: header `Idempotency-Key` and field `idempotency_key` (webhooks), a
context line (Slack), header `Idempotency-Key` and a Message-ID derived from it (email).
A failure raises DeliveryError, `permanent` when retrying cannot help (the receiver refused the request).
Error texts never carry a secret or a webhook URL.
"""

from __future__ import annotations

import email.policy
import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx
from pydantic import SecretStr

from notifier.alerts import Alert
from notifier.rules import Channel, EmailChannel, SlackChannel, WebhookChannel
from streampulse.settings import Settings

SIGNATURE_HEADER = "X-StreamPulse-Signature"
TIMESTAMP_HEADER = "X-StreamPulse-Timestamp"
KEY_HEADER = "Idempotency-Key"
EMAIL_KEY_HEADER = "Idempotency-Key"
RETRYABLE_HTTP = {408, 425, 429}
# Header lines up to RFC 5322's limit: a long idempotency key is not folded (a receiver reads it back whole).
UNFOLDED = email.policy.SMTP.clone(max_line_length=998)


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(secret: SecretStr, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>." + body): the receiver recomputes it to check that
    the body came from us, and rejects old timestamps against replays."""
    mac = hmac.new(secret.get_secret_value().encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: SecretStr, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): constant-time comparison of the signature."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def webhook_request(
    payload: dict[str, Any], key: str, secret: SecretStr, now: float | None = None
) -> tuple[dict, bytes]:
    """Headers and body of a signed webhook POST."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        KEY_HEADER: key,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    return headers, body


def summary(alert: Alert) -> str:
    """One line a person reads first."""
    verb = "opened" if alert.state == "OPEN" else "resolved"
    value = f"{alert.peak_value:,.0f} ms p95" if alert.anomaly_kind == "LATENCY" else f"{alert.peak_value:.1%} errors"
    more = f" (+{alert.grouped} more since the last notification)" if alert.grouped else ""
    return f"[{alert.severity}] {alert.anomaly_kind} {verb} on {alert.subject} ({alert.region}), peak {value}{more}"


def slack_payload(alert: Alert) -> dict[str, Any]:
    """An incoming-webhook message: `text` (the notification and the fallback) plus Block Kit blocks."""
    icon = ":red_circle:" if alert.state == "OPEN" else ":large_green_circle:"
    p = alert.payload()
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{p[key]}"}
        for name, key in (("State", "state"), ("Severity", "severity"), ("Region", "region"),
                          ("Started", "started_at"), ("Detected" if alert.state == "OPEN" else "Ended", "at"))
    ]  # fmt: skip
    return {
        "text": f"{icon} {summary(alert)}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{summary(alert)}*"}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"idempotency key `{alert.idempotency_key}`"}]},
        ],
    }


def message_id(key: str) -> str:
    """The same Message-ID for every retry of one notification: mail systems drop the duplicates."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@streampulse>"


def email_message(settings: Settings, to: list[str], subject: str, text: str, key: str) -> EmailMessage:
    msg = EmailMessage(policy=UNFOLDED)
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(key)
    msg[EMAIL_KEY_HEADER] = key
    msg.set_content(text)
    return msg


def alert_email(settings: Settings, channel: EmailChannel, alert: Alert) -> EmailMessage:
    lines = [summary(alert), ""] + [f"{k}: {v}" for k, v in alert.payload().items()]
    subject = f"StreamPulse: {summary(alert)}"
    return email_message(settings, channel.to, subject, "\n".join(lines), alert.idempotency_key)


def send_email(settings: Settings, msg: EmailMessage) -> None:
    """Through the configured SMTP server; 5xx answers are permanent, the rest (4xx, no connection) retried."""
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server configured (STREAMPULSE_SMTP_HOST)", permanent=True)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = sorted({code for code, _ in exc.recipients.values()})
        raise DeliveryError(f"SMTP recipients refused {codes}", permanent=all(c >= 500 for c in codes)) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}") from None


def post(http: httpx.Client, url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> None:
    """POST; 2xx is delivered; 408/425/429/5xx and transport errors are retried; other 4xx are permanent."""
    try:
        response = http.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.InvalidURL:
        raise DeliveryError("HTTP: InvalidURL", permanent=True) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"HTTP: {type(exc).__name__}") from None  # the text could hold the URL
    if response.is_success:
        return
    code = response.status_code
    raise DeliveryError(f"HTTP {code}", permanent=code < 500 and code not in RETRYABLE_HTTP)


@dataclass
class Sender:
    """Sends to any configured channel; one HTTP connection pool for all webhooks."""

    settings: Settings
    http: httpx.Client

    def send_alert(self, channel: Channel, alert: Alert) -> None:
        if isinstance(channel, WebhookChannel):
            headers, body = webhook_request(alert.payload(), alert.idempotency_key, channel.secret)
            post(self.http, channel.endpoint(), headers, body, channel.timeout_s)
        elif isinstance(channel, SlackChannel):
            body = json.dumps(slack_payload(alert)).encode()
            headers = {"Content-Type": "application/json", KEY_HEADER: alert.idempotency_key}
            post(self.http, channel.endpoint(), headers, body, channel.timeout_s)
        else:
            send_email(self.settings, alert_email(self.settings, channel, alert))
