"""The notifications file (YAML): channels, routing rules for alerts, and who receives the daily report.

Secrets are never in the file: a webhook's signing secret (and a Slack URL, which is a credential) is named
by the environment variable that holds it, read once at load into a SecretStr. docs/notifications.md has
the format.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from notifier.alerts import SEVERITIES, STATES, Alert

Severity = Literal["MINOR", "MAJOR", "CRITICAL"]
State = Literal["OPEN", "RESOLVED"]
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _from_env(name: str, env: Mapping[str, str], what: str) -> SecretStr:
    value = env.get(name)
    if not value:
        raise ValueError(f"{what}: environment variable {name} is not set")
    return SecretStr(value)


class WebhookChannel(_Strict):
    """JSON POST, signed: `X-StreamPulse-Signature: sha256=HMAC(secret, "<timestamp>.<body>")`."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(pattern=ENV_NAME, description="environment variable holding the HMAC secret")
    timeout_s: float = Field(10, gt=0, le=120)
    _secret: SecretStr | None = PrivateAttr(None)

    def resolve(self, name: str, env: Mapping[str, str]) -> None:
        self._secret = _from_env(self.secret_env, env, f"channel {name}")

    @property
    def secret(self) -> SecretStr:
        assert self._secret is not None, "resolve() first"
        return self._secret

    def endpoint(self) -> str:
        return self.url


class SlackChannel(_Strict):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...): `text` plus blocks."""

    type: Literal["slack"]
    url_env: str = Field(pattern=ENV_NAME, description="environment variable holding the webhook URL (a secret)")
    timeout_s: float = Field(10, gt=0, le=120)
    _url: SecretStr | None = PrivateAttr(None)

    def resolve(self, name: str, env: Mapping[str, str]) -> None:
        self._url = _from_env(self.url_env, env, f"channel {name}")

    def endpoint(self) -> str:
        assert self._url is not None, "resolve() first"
        return self._url.get_secret_value()


class EmailChannel(_Strict):
    """Email through the SMTP server of the settings (STREAMPULSE_SMTP_*)."""

    type: Literal["email"]
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)

    def resolve(self, name: str, env: Mapping[str, str]) -> None:
        pass


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="type")]


class Match(_Strict):
    """Every given condition must hold; an omitted one matches anything."""

    kinds: list[str] | None = None
    severities: list[Severity] | None = None
    min_severity: Severity | None = None
    regions: list[str] | None = None
    nodes: list[str] | None = Field(None, description="glob patterns of edge nodes (a regional outage has no node)")

    def matches(self, alert: Alert) -> bool:
        if self.kinds is not None and alert.anomaly_kind not in self.kinds:
            return False
        if self.severities is not None and alert.severity not in self.severities:
            return False
        if self.min_severity is not None and _rank(alert.severity) < _rank(self.min_severity):
            return False
        if self.regions is not None and alert.region not in self.regions:
            return False
        if self.nodes is not None:
            return alert.node is not None and any(fnmatchcase(alert.node, p) for p in self.nodes)
        return True


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


class Route(_Strict):
    name: str = Field(min_length=1, max_length=64)
    match: Match = Match()
    channels: list[str] = Field(min_length=1)
    states: list[State] = Field(default_factory=lambda: list(STATES))
    cooldown_minutes: float | None = Field(None, ge=0, description="overrides defaults.cooldown_minutes")


class Defaults(_Strict):
    # A new anomaly of the same kind on the same subject within this time of the last one sent to a channel
    # is held, not sent: sent later only if still open when the cool-down ends, dropped if it resolves first.
    cooldown_minutes: float = Field(30, ge=0)
    retry_max_backoff_s: float = Field(300, gt=0)  # retries back off exponentially up to this
    give_up_after_hours: float = Field(24, gt=0)  # then the delivery is `failed` (the Dagster check shows it)
    max_age_hours: float = Field(24, gt=0)  # an alert older than this when read is recorded, not sent
    keep_days: float = Field(30, gt=0)  # finished deliveries (delivered, suppressed, failed) are deleted after this


class Reports(_Strict):
    channels: list[str] = Field(min_length=1, description="email or webhook channels that receive the daily report")


class NotificationConfig(_Strict):
    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    defaults: Defaults = Defaults()
    reports: Reports | None = None

    @model_validator(mode="after")
    def _known_channels(self) -> NotificationConfig:
        for route in self.routes:
            for name in route.channels:
                if name not in self.channels:
                    raise ValueError(f"route {route.name}: unknown channel {name!r}")
        for name in self.reports.channels if self.reports else []:
            if name not in self.channels:
                raise ValueError(f"reports: unknown channel {name!r}")
            if isinstance(self.channels[name], SlackChannel):
                raise ValueError(f"reports: channel {name!r} is a Slack webhook; reports go by email or webhook")
        return self

    def resolve_secrets(self, env: Mapping[str, str] | None = None) -> NotificationConfig:
        """Read every channel's secrets from the environment; ValueError naming the missing variable."""
        env = os.environ if env is None else env
        for name, channel in self.channels.items():
            channel.resolve(name, env)
        return self

    def cooldown(self, route: Route) -> timedelta:
        minutes = route.cooldown_minutes if route.cooldown_minutes is not None else self.defaults.cooldown_minutes
        return timedelta(minutes=minutes)

    def route(self, alert: Alert) -> list[tuple[Route, str]]:
        """(route, channel) for each channel the alert goes to; a channel gets it once, by its first route."""
        chosen: dict[str, Route] = {}
        for route in self.routes:
            if alert.state in route.states and route.match.matches(alert):
                for channel in route.channels:
                    chosen.setdefault(channel, route)
        return [(route, channel) for channel, route in chosen.items()]


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> NotificationConfig:
    """The notifications file, validated, with its secrets read. No file: nothing is routed."""
    if path is None:
        return NotificationConfig()
    raw = yaml.safe_load(path.read_text()) or {}
    return NotificationConfig.model_validate(raw).resolve_secrets(env)
