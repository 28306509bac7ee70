"""Incident scenarios: composable, time-bounded changes to the event stream, each with a label.

A scenario is active from `start` to `start + duration` seconds after the run's first event time.
Give them on the command line (`--scenario cdn_outage:node=edge-de-fra-1,start=60,duration=300`)
or in a YAML/JSON file (`--scenario-file`, a list of mappings with a `kind`). Every scenario of a
run is written to the ground-truth label store (`ground_truth.incidents`) so that detectors and
trending can be scored against what really happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from generator import domain
from generator.model import EventBatch


class _Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Scenarios change what happened (applied before a session's follow-ups are scheduled, so an errored
    # stream start has no end and a viral title's viewers finish watching it) or only how events arrive.
    in_delivery: ClassVar[bool] = False
    start: float = Field(0, ge=0, description="seconds after the run's first event time")
    duration: float = Field(300, gt=0, description="seconds")

    def window_ms(self, run_start_ms: int) -> tuple[int, int]:
        begin = run_start_ms + int(self.start * 1000)
        return begin, begin + int(self.duration * 1000)

    def target(self) -> str:
        return ""

    def mask(self, batch: EventBatch, run_start_ms: int) -> np.ndarray:
        begin, end = self.window_ms(run_start_ms)
        return (batch.event_time >= begin) & (batch.event_time < end)

    def region_boost(self) -> np.ndarray | None:
        return None

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        return batch


def _node(value: str) -> str:
    if value not in domain.EDGE_NODES:
        raise ValueError(f"unknown CDN node {value!r}; nodes: {', '.join(domain.EDGE_NODES)}")
    return value


def _region(value: str) -> str:
    if value not in domain.REGION_CODES:
        raise ValueError(f"unknown region {value!r}; regions: {', '.join(domain.REGION_CODES)}")
    return value


def _fail(batch: EventBatch, hit: np.ndarray) -> np.ndarray:
    """Turn the hit downloads into failed ones and the hit stream starts into errors (HTTP 503)."""
    downloads = hit & (batch.event_type == domain.DOWNLOAD_COMPLETED)
    streams = hit & (batch.event_type == domain.STREAM_STARTED)
    batch.event_type[downloads] = domain.DOWNLOAD_FAILED
    failed = downloads | streams
    batch.error_code[failed] = domain.ERROR_CODES.index("HTTP_503")
    batch.bytes_sent[failed] = 0
    batch.throughput_kbps[failed] = 0
    return failed


def _move_back(batch: EventBatch, hit: np.ndarray, delay_ms: np.ndarray) -> int:
    """Move the hit events' times back by their delays, except where an outcome would precede its start."""
    ok = batch.started_ms[hit] < batch.event_time[hit] - delay_ms
    batch.event_time[hit[ok]] -= delay_ms[ok]
    return int(ok.sum())


class CdnOutage(_Scenario):
    """An edge node fails: `error_rate` of its downloads and stream starts fail with HTTP 503."""

    kind: Literal["cdn_outage"] = "cdn_outage"
    node: str = "edge-de-fra-1"
    error_rate: float = Field(0.6, gt=0, le=1)
    _check_node = field_validator("node")(_node)

    def target(self) -> str:
        return self.node

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        hit = self.mask(batch, run_start_ms) & (batch.cdn_node == domain.EDGE_NODES.index(self.node))
        hit &= rng.random(len(batch)) < self.error_rate
        failed = _fail(batch, hit)
        stats["failed_by_outage"] = stats.get("failed_by_outage", 0) + int(failed.sum())
        return batch


class RegionalOutage(_Scenario):
    """Every edge node of a region fails: `error_rate` of the region's downloads and stream starts fail."""

    kind: Literal["regional_outage"] = "regional_outage"
    region: str = "BR"
    error_rate: float = Field(0.6, gt=0, le=1)
    _check_region = field_validator("region")(_region)

    def target(self) -> str:
        return self.region

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        hit = self.mask(batch, run_start_ms) & (batch.region == domain.REGION_CODES.index(self.region))
        hit &= rng.random(len(batch)) < self.error_rate
        failed = _fail(batch, hit)
        stats["failed_by_regional_outage"] = stats.get("failed_by_regional_outage", 0) + int(failed.sum())
        return batch


class LatencyDegradation(_Scenario):
    """An edge node slows down: time to first byte multiplied by `factor`, throughput divided by it."""

    kind: Literal["latency_degradation"] = "latency_degradation"
    node: str = "edge-us-east-1"
    factor: float = Field(8.0, gt=1)
    _check_node = field_validator("node")(_node)

    def target(self) -> str:
        return self.node

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        hit = self.mask(batch, run_start_ms) & (batch.cdn_node == domain.EDGE_NODES.index(self.node))
        batch.ttfb_ms[hit] = (batch.ttfb_ms[hit] * self.factor).astype(np.int32)
        batch.throughput_kbps[hit] = (batch.throughput_kbps[hit] / self.factor).astype(np.int32)
        batch.duration_ms[hit] = (batch.duration_ms[hit] * self.factor).astype(np.int32)
        stats["slowed"] = stats.get("slowed", 0) + int(hit.sum())
        return batch


class ViralRelease(_Scenario):
    """One title surges in one region: `share` of that region's new sessions are about it."""

    kind: Literal["viral_release"] = "viral_release"
    content_id: str = Field("", description="catalog id; empty = the catalog's newest movie")
    region: str = "US"
    share: float = Field(0.25, gt=0, le=1)
    _check_region = field_validator("region")(_region)
    _content_index: int = -1

    def target(self) -> str:
        return f"{self.content_id}@{self.region}"

    def bind(self, catalog: object) -> None:
        ids = catalog.content_id  # type: ignore[attr-defined]
        if not self.content_id:
            movies = np.flatnonzero(catalog.content_type == 0)  # type: ignore[attr-defined]
            newest = movies[np.argmax(catalog.release_date[movies])]  # type: ignore[attr-defined]
            self.content_id = ids[newest]
        if self.content_id not in ids:
            raise ValueError(f"viral_release: content_id {self.content_id!r} is not in the catalog")
        self._content_index = ids.index(self.content_id)
        self._content_type = int(catalog.content_type[self._content_index])  # type: ignore[attr-defined]

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        # New download and stream sessions only: their outcomes and ends follow on the same title.
        hit = self.mask(batch, run_start_ms) & (batch.region == domain.REGION_CODES.index(self.region))
        hit &= (rng.random(len(batch)) < self.share) & (batch.event_type != domain.PURCHASE) & (batch.started_ms < 0)
        batch.content[hit] = self._content_index
        batch.content_type[hit] = self._content_type
        stats["viral_events"] = stats.get("viral_events", 0) + int(hit.sum())
        return batch


class RegionalSurge(_Scenario):
    """A region's share of traffic is multiplied by `factor` (a national event, a holiday)."""

    kind: Literal["regional_surge"] = "regional_surge"
    region: str = "BR"
    factor: float = Field(4.0, gt=1)
    _check_region = field_validator("region")(_region)

    def target(self) -> str:
        return self.region

    def region_boost(self) -> np.ndarray:
        boost = np.ones(len(domain.REGIONS))
        boost[domain.REGION_CODES.index(self.region)] = self.factor
        return boost


class OutOfOrder(_Scenario):
    """`fraction` of events arrive up to `max_delay` seconds late: inside the watermark's allowance."""

    kind: Literal["out_of_order"] = "out_of_order"
    fraction: float = Field(0.2, gt=0, le=1)
    max_delay: float = Field(4.0, gt=0)

    in_delivery: ClassVar[bool] = True

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        hit = np.flatnonzero(self.mask(batch, run_start_ms) & (rng.random(len(batch)) < self.fraction))
        moved = _move_back(batch, hit, rng.integers(1, int(self.max_delay * 1000) + 1, size=len(hit)))
        stats["out_of_order"] = stats.get("out_of_order", 0) + moved
        return batch


class LateEvents(_Scenario):
    """`fraction` of events carry event times `min_delay`..`max_delay` seconds old: beyond the watermark.

    Only events that open no session (outcomes, stream ends, purchases), and never earlier than their own start.
    """

    kind: Literal["late_events"] = "late_events"
    fraction: float = Field(0.02, gt=0, le=1)
    min_delay: float = Field(60.0, gt=0)
    max_delay: float = Field(180.0, gt=0)

    in_delivery: ClassVar[bool] = True

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        # Not a session's opening event: the job leaves late events out of its windows, and a start left out
        # while its outcome is counted would make completions outnumber starts. Nor an outcome whose delay
        # would put it before its own start. `fraction` is of all the window's events: drawn among the rest.
        opens = (batch.event_type == domain.DOWNLOAD_STARTED) | (
            (batch.event_type == domain.STREAM_STARTED) & (batch.error_code < 0)
        )
        lo, hi = int(self.min_delay * 1000), int(max(self.max_delay, self.min_delay) * 1000) + 1
        delay = rng.integers(lo, hi, size=len(batch))
        inside = self.mask(batch, run_start_ms)
        movable = inside & ~opens & (batch.started_ms < batch.event_time - delay)
        share = min(1.0, self.fraction * inside.sum() / max(1, movable.sum()))
        hit = np.flatnonzero(movable & (rng.random(len(batch)) < share))
        stats["late"] = stats.get("late", 0) + _move_back(batch, hit, delay[hit])
        return batch


class Duplicates(_Scenario):
    """`fraction` of events are sent twice (same event_id): an at-least-once client retrying."""

    kind: Literal["duplicates"] = "duplicates"
    fraction: float = Field(0.02, gt=0, le=1)
    in_delivery: ClassVar[bool] = True

    def apply(self, batch: EventBatch, run_start_ms: int, rng: np.random.Generator, stats: dict) -> EventBatch:
        hit = np.flatnonzero(self.mask(batch, run_start_ms) & (rng.random(len(batch)) < self.fraction))
        stats["duplicates"] = stats.get("duplicates", 0) + len(hit)
        if not len(hit):
            return batch
        # Each copy is sent right after its original, as a retrying client would: duplicates add no
        # out-of-orderness of their own.
        positions = np.concatenate([np.arange(len(batch)), hit])
        return batch.take(positions[np.argsort(positions, kind="stable")])


Scenario = Annotated[
    CdnOutage
    | RegionalOutage
    | LatencyDegradation
    | ViralRelease
    | RegionalSurge
    | OutOfOrder
    | LateEvents
    | Duplicates,
    Field(discriminator="kind"),
]
KINDS = {
    cls.model_fields["kind"].default: cls
    for cls in (
        CdnOutage,
        RegionalOutage,
        LatencyDegradation,
        ViralRelease,
        RegionalSurge,
        OutOfOrder,
        LateEvents,
        Duplicates,
    )
}
_adapter = TypeAdapter(list[Scenario])


class ScenarioError(ValueError):
    """A scenario could not be understood; the message lists what is valid."""


def describe_kinds() -> str:
    lines = []
    for kind, cls in KINDS.items():
        params = ", ".join(
            f"{name}={field.default}" for name, field in cls.model_fields.items() if name not in ("kind",)
        )
        lines.append(f"  {kind}: {cls.__doc__}  [{params}]")
    return "\n".join(lines)


def parse_spec(spec: str) -> dict:
    """'cdn_outage:node=edge-de-fra-1,start=60' -> {'kind': 'cdn_outage', 'node': ..., 'start': '60'}."""
    kind, _, rest = spec.partition(":")
    result: dict = {"kind": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise ScenarioError(f"scenario {spec!r}: expected key=value, got {part!r}")
        result[key.strip()] = value.strip()
    return result


def load(specs: list[str], file: Path | None = None) -> list[_Scenario]:
    raw: list[dict] = [parse_spec(s) for s in specs]
    if file is not None:
        try:
            loaded = yaml.safe_load(file.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioError(f"cannot read scenario file {file}: {exc}") from None
        items = loaded.get("scenarios", loaded) if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise ScenarioError(f"{file}: expected a list of scenarios (or a mapping with 'scenarios:')")
        raw += items
    for item in raw:
        if item.get("kind") not in KINDS:
            raise ScenarioError(f"unknown scenario {item.get('kind')!r}. Valid scenarios:\n{describe_kinds()}")
    try:
        return list(_adapter.validate_python(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'][1:])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ScenarioError(f"invalid scenario: {problems}") from None
