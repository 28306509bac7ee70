"""Live CDN alerts as Server-Sent Events, read from the alerts Kafka topic the Flink job writes.

Each connected client gets its own consumer (no consumer group, nothing committed) in a worker thread,
positioned at the end of the topic, or just after the client's `Last-Event-ID` when it reconnects, so a
reconnecting client misses nothing. The consumer reads committed records only: the Flink job writes the
topic transactionally, and an alert shows up once the checkpoint that produced it has completed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from pydantic import BaseModel, Field, WithJsonSchema
from sse_starlette.sse import EventSourceResponse

from api.deps import StreamKey
from api.errors import invalid, responses
from api.routers.anomalies import Severity, anomaly_id

log = logging.getLogger(__name__)
router = APIRouter(prefix="/alerts", tags=["alerts"])
# "p<partition>o<next offset>" per partition, e.g. `p0o42p1o7` (offsets below 10^18 fit Kafka's int64). Letters
# and digits only: the simplest header value (schemathesis, for one, generates headers from those alone).
RESUME_PATTERN = r"^(p[0-9]{1,6}o[0-9]{1,18}){1,256}$"
RESUME_ID = re.compile(RESUME_PATTERN)
_RESUME_PART = re.compile(r"p([0-9]+)o([0-9]+)")


class AlertEvent(BaseModel):
    """The `data` of an `alert` event (JSON)."""

    id: str = Field(description="The anomaly's id (see /v1/anomalies/{id}).",
                    examples=["ERROR_RATE:edge-de-fra-1:20260101T000300Z"])  # fmt: skip
    state: str = Field(description="OPEN when detected, RESOLVED when it ended.", examples=["OPEN"])
    anomaly_kind: str = Field(examples=["ERROR_RATE"])
    subject: str = Field(examples=["edge-de-fra-1"])
    region: str = Field(examples=["DE"])
    severity: str = Field(examples=["CRITICAL"])
    peak_value: float = Field(examples=[0.646])
    started_at: datetime = Field(examples=["2026-01-01T00:03:00Z"])
    at: datetime = Field(description="detected_at (OPEN) or ended_at (RESOLVED).", examples=["2026-01-01T00:06:00Z"])


def _sse_event(name: str, data: dict, described: str, with_id: bool) -> dict:
    """One kind of event as OpenAPI 3.2's `itemSchema` states it (schemathesis validates each event)."""
    event = {
        "type": "object",
        "description": described,
        "required": ["event", "data", *(["id"] if with_id else [])],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
            "id": {"type": "string", "pattern": RESUME_PATTERN},
            "retry": {"type": "integer", "minimum": 0},
        },
    }
    return event


SSE_EVENT = {
    "oneOf": [
        _sse_event("ready", {"type": "object", "required": ["topic"], "properties": {"topic": {"type": "string"}}},
                   "The stream is positioned: every alert committed after it will arrive.", True),
        _sse_event("alert", {"$ref": "#/components/schemas/AlertEvent"},
                   "An anomaly opened or resolved; `id` resumes after it (`Last-Event-ID`).", True),
        _sse_event("error", {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}},
                   "The alerts topic is unavailable; the stream ends.", False),
    ]
}  # fmt: skip


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def parse_alert(raw: bytes) -> AlertEvent:
    """The Flink job's JSON record (TIMESTAMP(3) as ISO 8601 without offset, in UTC) as an AlertEvent."""
    r = json.loads(raw)
    started = _utc(r["started_at"])
    return AlertEvent(
        id=anomaly_id(r["anomaly_kind"], r["subject"], started), state=r["state"], anomaly_kind=r["anomaly_kind"],
        subject=r["subject"], region=r["region"], severity=r["severity"], peak_value=r["peak_value"],
        started_at=started, at=_utc(r["at_time"]),
    )  # fmt: skip


def parse_resume(last_event_id: str | None) -> dict[int, int]:
    """`Last-Event-ID` (`p<partition>o<next offset>`, repeated) as {partition: next offset}."""
    if not last_event_id:
        return {}
    if not RESUME_ID.match(last_event_id):
        raise invalid("Last-Event-ID", "is not an event id this stream sent")
    return {int(p): int(o) for p, o in _RESUME_PART.findall(last_event_id)}


def _consume(
    bootstrap: str, topic: str, resume: dict[int, int], loop: asyncio.AbstractEventLoop, queue: asyncio.Queue,
    stop: threading.Event,
) -> None:  # fmt: skip
    """Worker thread: read the topic and hand ("ready", positions) then ("record", ...) items to the loop."""
    from confluent_kafka import Consumer, TopicPartition

    def put(item: tuple) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "streampulse-api-sse", "enable.auto.commit": False,
        "isolation.level": "read_committed", "enable.partition.eof": False,
    })  # fmt: skip
    try:
        topic_md = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if topic_md is None or topic_md.error is not None or not topic_md.partitions:
            put(("error", f"alerts topic '{topic}' is not available"))
            return
        partitions = sorted(topic_md.partitions)
        # The end of each partition, asked with this consumer's read_committed isolation level: the last
        # stable offset, so records of a transaction still open now are not skipped once it commits.
        positions = {
            p: resume[p] if p in resume else consumer.get_watermark_offsets(TopicPartition(topic, p), 10, False)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, o) for p, o in positions.items()])
        put(("ready", positions))
        while not stop.is_set():
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                log.warning("alerts consumer: %s", msg.error())
                continue
            put(("record", msg.partition(), msg.offset(), msg.value()))
    except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
        log.warning("alerts consumer failed: %s", type(exc).__name__)
        put(("error", "the alerts stream failed"))
    finally:
        consumer.close()


async def alert_events(
    request: Request, resume: dict[int, int], region: str | None, severity: str | None
) -> AsyncIterator[dict]:
    settings = request.app.state.settings
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=_consume, args=(settings.bootstrap_servers, settings.alerts_topic, resume, loop, queue, stop),
        name="sse-alerts", daemon=True,
    )  # fmt: skip
    request.app.state.alert_streams += 1
    thread.start()
    positions = dict(resume)
    try:
        while True:
            item = await queue.get()
            if item[0] == "error":
                yield {"event": "error", "data": json.dumps({"detail": item[1]})}
                return
            if item[0] == "ready":
                positions = item[1] | {p: o for p, o in positions.items() if o > item[1].get(p, -1)}
                yield {"event": "ready", "data": json.dumps({"topic": settings.alerts_topic}),
                       "id": _event_id(positions)}  # fmt: skip
                continue
            _, partition, offset, value = item
            positions[partition] = offset + 1
            try:
                alert = parse_alert(value)
            except (ValueError, KeyError, TypeError):
                log.warning("skipping an unreadable alert record at %s-%s", partition, offset)
                continue
            if (region and alert.region != region) or (severity and alert.severity != severity):
                continue
            yield {"event": "alert", "id": _event_id(positions), "data": alert.model_dump_json()}
    finally:
        stop.set()
        request.app.state.alert_streams -= 1


def _event_id(positions: dict[int, int]) -> str:
    return "".join(f"p{p}o{o}" for p, o in sorted(positions.items()))


@router.get(
    "/stream",
    summary="Live CDN alerts (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An endless `text/event-stream`. Events: `ready` (the stream is positioned; every later "
            "alert will arrive), `alert` (data: an AlertEvent as JSON; `id` for `Last-Event-ID`), `error`. "
            "Comment lines every 15 s keep the connection alive.",
            "content": {
                "text/event-stream": {
                    "itemSchema": SSE_EVENT,
                    "example": 'event: alert\nid: p0o42\ndata: {"id": "ERROR_RATE:..."}\n\n',
                }
            },
        },  # fmt: skip
        **responses(401, 403, 422, 429, 503),
    },
)
async def stream_alerts(
    request: Request,
    _key: StreamKey,
    region: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="Only this region.")] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    last_event_id: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": RESUME_PATTERN}),  # absent or an id: a header is never null
        Header(
            alias="Last-Event-ID",
            pattern=RESUME_PATTERN,
            description="Resume after this event (browsers send it when they reconnect).",
        ),
    ] = None,  # fmt: skip
) -> EventSourceResponse:
    """Opened and resolved CDN anomalies as they are detected by the Flink job, as Server-Sent Events.

    The data of each `alert` event is an `AlertEvent` (see the schemas). Reconnect with `Last-Event-ID` to
    resume where the previous connection stopped."""
    resume = parse_resume(last_event_id)
    if request.app.state.alert_streams >= request.app.state.settings.api_max_alert_streams:
        raise HTTPException(503, "Too many open alert streams; try again later.", headers={"Retry-After": "30"})
    return EventSourceResponse(
        alert_events(request, resume, region, severity.value if severity else None), ping=15, send_timeout=30
    )
