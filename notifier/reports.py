"""Delivering the daily BI report (`report.html` and the CSV extracts) to the channels of the notifications
file's `reports:` section: by email (the page as the HTML body, every file attached) and by signed webhook
(JSON with the files base64-encoded). Transient failures are retried with backoff (tenacity); what still
fails is raised, so that the Dagster run that delivers fails visibly.
"""

from __future__ import annotations

import base64
import logging
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from notifier.channels import DeliveryError, email_message, post, send_email, webhook_request
from notifier.rules import EmailChannel, NotificationConfig, WebhookChannel
from streampulse.settings import Settings

log = logging.getLogger(__name__)
MEDIA = {".html": ("text", "html"), ".csv": ("text", "csv")}


class ReportDeliveryError(RuntimeError):
    """At least one channel did not receive the report; the message names each and why."""


def report_key(day: date) -> str:
    """The same key for every delivery of one day's report: receivers deduplicate a re-run."""
    return f"report:{day.isoformat()}"


def report_files(folder: Path) -> list[Path]:
    """report.html first, then the CSV extracts, by name."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in MEDIA and not p.name.startswith("."))
    return sorted(files, key=lambda p: p.name != "report.html")


def report_email(settings: Settings, channel: EmailChannel, day: date, files: list[Path]) -> EmailMessage:
    text = (f"The StreamPulse daily report for {day.isoformat()} (UTC) is attached: the page (report.html) and "
            f"its extracts ({', '.join(f.name for f in files if f.suffix == '.csv')}).")  # fmt: skip
    msg = email_message(settings, channel.to, f"StreamPulse daily report, {day.isoformat()}", text, report_key(day))
    html = next((f for f in files if f.name == "report.html"), None)
    if html is not None:
        msg.add_alternative(html.read_text(encoding="utf-8"), subtype="html")
    for f in files:
        maintype, subtype = MEDIA[f.suffix]
        msg.add_attachment(f.read_bytes(), maintype=maintype, subtype=subtype, filename=f.name)
    return msg


def report_payload(day: date, files: list[Path]) -> dict:
    return {
        "idempotency_key": report_key(day),
        "kind": "daily_report",
        "day": day.isoformat(),
        "files": [
            {
                "name": f.name,
                "content_type": "/".join(MEDIA[f.suffix]),
                "size_bytes": f.stat().st_size,
                "content_base64": base64.b64encode(f.read_bytes()).decode(),
            }
            for f in files
        ],  # fmt: skip
    }


def _send(settings: Settings, http: httpx.Client, channel: EmailChannel | WebhookChannel, day: date,
          files: list[Path]) -> None:  # fmt: skip
    if isinstance(channel, EmailChannel):
        send_email(settings, report_email(settings, channel, day, files))
        return
    headers, body = webhook_request(report_payload(day, files), report_key(day), channel.secret)
    post(http, channel.endpoint(), headers, body, channel.timeout_s)


def deliver_report(
    settings: Settings, config: NotificationConfig, day: date, folder: Path, attempts: int = 4, max_wait_s: float = 30
) -> list[str]:
    """Send the report in `folder` to every report channel; returns their names. Each channel is tried
    `attempts` times with exponential backoff on transient errors; ReportDeliveryError names those that failed."""
    if config.reports is None:
        return []
    files = report_files(folder)
    if not any(f.name == "report.html" for f in files):
        raise ReportDeliveryError(f"no report.html in {folder}")
    failures = []
    with httpx.Client() as http:
        for name in config.reports.channels:
            channel = config.channels[name]
            assert isinstance(channel, EmailChannel | WebhookChannel)  # the file's validation ensures it
            retrying = Retrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential(multiplier=1, max=max_wait_s),
                retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and not e.permanent),
                reraise=True,
            )
            try:
                retrying(_send, settings, http, channel, day, files)
                log.info("report %s delivered to %s", day, name)
            except DeliveryError as exc:
                failures.append(f"{name}: {exc}")
    if failures:
        raise ReportDeliveryError(f"the {day} report did not reach " + "; ".join(failures))
    return list(config.reports.channels)
