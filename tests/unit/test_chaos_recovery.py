"""How the chaos suite times recovery (tests/chaos.py `wait_recovered`), over a scripted Flink REST API: the
first checkpoint triggered after the fault counts even when a later poll no longer sees it in the 10-entry
history, the job state lags, or the source's record metrics stay stale; a checkpoint triggered before the
fault does not count; a job restored after a checkpoint must checkpoint again."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests import chaos

FAULT_S = 1_000.0  # the fault, in the fake clock's seconds


def _job(running: bool, records: int) -> dict:
    status = "RUNNING" if running else "INITIALIZING"
    return {"state": "RUNNING", "vertices": [{"name": "Source: events", "status": status,
                                              "metrics": {"write-records": records}}]}  # fmt: skip


def _checkpoint(triggered_s: float, acked_s: float) -> dict:
    return {"status": "COMPLETED", "trigger_timestamp": triggered_s * 1000, "latest_ack_timestamp": acked_s * 1000}


class Script:
    """One poll per 0.5 s step of a fake clock: step i answers with jobs[i] and histories[i]."""

    def __init__(self, jobs: list[dict | None], histories: list[list[dict]], restores: list[float]) -> None:
        self.jobs, self.histories, self.restores, self.step = jobs, histories, restores or [0], 0
        self.now = FAULT_S

    def job_if_known(self, job_id: str) -> dict | None:
        return self.jobs[min(self.step, len(self.jobs) - 1)]

    def checkpoints(self, job_id: str) -> dict:
        restored = self.restores[min(self.step, len(self.restores) - 1)]
        latest = {"restored": {"restore_timestamp": restored * 1000} if restored else None}
        return {"history": self.histories[min(self.step, len(self.histories) - 1)], "latest": latest}

    def sleep(self, seconds: float) -> None:
        self.step += 1
        self.now += seconds


@pytest.fixture
def script(monkeypatch):
    def install(jobs: list[dict | None], histories: list[list[dict]], restores: list[float] = ()) -> Script:
        s = Script(jobs, histories, list(restores))
        monkeypatch.setattr(chaos.FlinkRest, "from_settings", classmethod(lambda cls, *a, **k: s))
        clock = SimpleNamespace(time=lambda: s.now, monotonic=lambda: s.now, sleep=s.sleep)
        monkeypatch.setattr(chaos, "time", clock)
        return s

    return install


def _wait(timeout_s: float = 30) -> chaos.Recovery:
    job = chaos.Job(settings=None, name="j", topic="t", database="d", alerts_topic="a", job_id="x")  # type: ignore[arg-type]
    return chaos.wait_recovered(job, FAULT_S, timeout_s=timeout_s)


def test_the_first_checkpoint_counts_though_the_history_has_dropped_it(script):
    early = _checkpoint(FAULT_S + 4, FAULT_S + 5)
    later = [_checkpoint(FAULT_S + 6 + i, FAULT_S + 7 + i) for i in range(10)]
    # polls 0-1: restarting; poll 2: the first checkpoint is listed, tasks not all reported running yet;
    # poll 3 on: running, and the history holds only the 10 newest
    script([None, None, _job(False, 0), _job(True, 50), _job(True, 90)], [[], [], [early], later])
    assert _wait() == chaos.Recovery(resumed_s=None, checkpointed_s=5.0)


def test_stale_record_metrics_do_not_hold_recovery_back(script):
    script([_job(False, 0), _job(True, 7)], [[], [_checkpoint(FAULT_S + 2, FAULT_S + 3)]])
    assert _wait() == chaos.Recovery(resumed_s=None, checkpointed_s=3.0)


def test_records_growing_give_the_time_processing_resumed(script):
    jobs = [_job(True, 10), _job(True, 20), _job(True, 30)]
    script(jobs, [[], [], [_checkpoint(FAULT_S + 0.7, FAULT_S + 0.9)]])
    assert _wait() == chaos.Recovery(resumed_s=0.5, checkpointed_s=0.9)


def test_a_checkpoint_triggered_before_the_fault_proves_nothing(script):
    before = _checkpoint(FAULT_S - 1, FAULT_S + 0.2)  # its last ack arrived just after the kill
    script([_job(True, 1)], [[before]])
    with pytest.raises(TimeoutError):
        _wait(timeout_s=5)


def test_a_restore_after_a_checkpoint_waits_for_the_next_one(script):
    first = _checkpoint(FAULT_S + 0.2, FAULT_S + 0.4)
    second = _checkpoint(FAULT_S + 3.2, FAULT_S + 3.4)
    # a first checkpoint completes, then a task fails and the job restores (at +0.8 s) before a poll has seen
    # it running with that checkpoint; the restored job checkpoints again
    jobs = [_job(False, 0), _job(False, 0), _job(True, 5)]
    histories = [[], [first], [first], [first], [first], [first], [first], [first, second]]
    script(jobs, histories, restores=[0, FAULT_S + 0.8])
    assert _wait() == chaos.Recovery(resumed_s=None, checkpointed_s=3.4)
