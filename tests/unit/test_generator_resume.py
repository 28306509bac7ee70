"""A resumable generator run (RunConfig.progress_file) continues the same stream after a crash: the
union of what the crashed run and the resumed run sent is the uninterrupted run's stream, and what is
sent twice is only what the crashed run sent after its last recorded (confirmed) batch."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from generator import run as run_module
from generator.producer import DeliveryReport
from generator.run import RunConfig, run_generator
from streampulse.settings import get_settings

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class RecordingProducer:
    """Stands in for Kafka in this unit test only: keeps every record value it is given."""

    sent: list[bytes] = []
    crash_after_batches: int | None = None

    def __init__(self, settings: object, topic: str | None = None, schema_version: int = 2) -> None:
        self.topic, self.schema_id, self.report, self.batches = topic or "t", 1, DeliveryReport(), 0

    def send_encoded(self, messages: list[dict]) -> None:
        if self.crash_after_batches is not None and self.batches >= self.crash_after_batches:
            raise KeyboardInterrupt("simulated kill -9")
        RecordingProducer.sent += [m["value"] for m in messages]
        self.report.produced += len(messages)
        self.batches += 1

    def flush(self, timeout_s: float = 60) -> DeliveryReport:
        return self.report


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> type[RecordingProducer]:
    monkeypatch.setattr(run_module, "EventProducer", RecordingProducer)
    RecordingProducer.sent, RecordingProducer.crash_after_batches = [], None
    return RecordingProducer


def _run(progress: Path | None, count: int = 3000) -> None:
    config = RunConfig(rate=1000, count=count, seed=5, start_ms=START_MS, max_speed=True, record_labels=False,
                       progress_file=progress)  # fmt: skip
    run_generator(get_settings(), config, threading.Event())


def test_a_resumed_run_continues_the_same_stream(producer, tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "MAX_BATCH", 500)
    _run(None)
    whole = list(producer.sent)
    assert len(whole) == 3000

    producer.sent = []
    progress = tmp_path / "progress"
    producer.crash_after_batches = 3  # killed while sending the 4th batch of 500
    monkeypatch.setattr(run_module.time, "monotonic", _clock())  # every batch counts as a second: recorded
    with pytest.raises(KeyboardInterrupt):
        _run(progress)
    crashed = list(producer.sent)
    recorded = json.loads(progress.read_text())["drawn"]
    assert recorded == 1500 and crashed == whole[:1500]

    producer.sent, producer.crash_after_batches = [], None
    _run(progress)
    assert producer.sent == whole[recorded:]
    assert json.loads(progress.read_text())["drawn"] == 3000


def test_a_progress_file_of_another_stream_is_refused(producer, tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "MAX_BATCH", 500)
    progress = tmp_path / "progress"
    _run(progress, count=1000)
    config = RunConfig(rate=1000, count=3000, seed=6, start_ms=START_MS, max_speed=True, record_labels=False,
                       progress_file=progress)  # fmt: skip
    with pytest.raises(run_module.ResumeMismatch, match="seed"):
        run_generator(get_settings(), config, threading.Event())


def _clock():  # noqa: ANN202
    tick = iter(range(0, 10**6, 2))
    return lambda: float(next(tick))
