"""Cool-down, grouping and acknowledgements: what to do with one notification for one channel.

Pure functions over what the outbox knows, so that the rules are tested without a database:

- An OPEN is held (not sent) when the channel was sent an OPEN of the same kind on the same subject less than
  the cool-down earlier (event time). A held OPEN is sent when the cool-down ends if its anomaly is still open
  and nobody acknowledged; it is dropped (suppressed) when its RESOLVED arrives first: a flapping node pages
  once per cool-down, and a lasting outage is never hidden by one.
- An acknowledgement of an anomaly (API or dashboard) silences OPENs of the same kind and subject that start
  within the cool-down after it started, including the acknowledged anomaly's own.
- A RESOLVED goes wherever its OPEN went; it is suppressed when its OPEN was held or suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

SENT = ("pending", "delivered", "failed")  # statuses of a notification that was (or is being) sent


@dataclass(frozen=True)
class Decision:
    status: str  # pending, held or suppressed
    reason: str | None = None
    hold_for: timedelta | None = None  # held: how long until the cool-down ends


def decide_open(at: datetime, last_sent_open_at: datetime | None, acknowledged: bool, cooldown: timedelta) -> Decision:
    """An OPEN detected at `at`; `last_sent_open_at`: detection time of the last OPEN of the same kind and
    subject sent to this channel; `acknowledged`: an acknowledgement silences this anomaly (see module doc)."""
    if acknowledged:
        return Decision("suppressed", "acknowledged")
    if last_sent_open_at is not None and abs(at - last_sent_open_at) < cooldown:
        return Decision("held", "cool-down", hold_for=last_sent_open_at + cooldown - at)
    return Decision("pending")


def decide_resolved(open_status: str | None) -> Decision:
    """A RESOLVED, given the status of its anomaly's OPEN on this channel (None: this channel never had it)."""
    if open_status is None or open_status in SENT:
        return Decision("pending")
    return Decision("suppressed", "its OPEN was not sent (cool-down or acknowledged)")


def decide_release(acknowledged: bool) -> Decision:
    """A held OPEN whose cool-down ended, its anomaly still open (a RESOLVED would have suppressed it)."""
    if acknowledged:
        return Decision("suppressed", "acknowledged")
    return Decision("pending", "still open after the cool-down")


def backoff(attempts: int, cap_s: float, base_s: float = 2.0) -> timedelta:
    """Wait before attempt `attempts + 1`: exponential (2, 4, 8 ... s) up to `cap_s`."""
    return timedelta(seconds=min(cap_s, base_s * 2 ** max(attempts - 1, 0)))
