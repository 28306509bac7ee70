"""The ground-truth label store: runs and the incidents they injected, in PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import psycopg

from generator.scenarios import _Scenario


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def record_run(
    conn: psycopg.Connection,
    run_id: str,
    seed: int,
    rate: float | None,
    topic: str,
    schema_version: int,
    first_event_ms: int,
    scenarios: list[_Scenario],
) -> None:
    with conn.transaction():
        conn.execute(
            "insert into ground_truth.runs (run_id, seed, rate, topic, schema_version, first_event_at)"
            " values (%s, %s, %s, %s, %s, %s)",
            (run_id, seed, rate, topic, schema_version, _ts(first_event_ms)),
        )
        for no, scenario in enumerate(scenarios, start=1):
            begin, end = scenario.window_ms(first_event_ms)
            conn.execute(
                "insert into ground_truth.incidents (run_id, incident_no, kind, target, starts_at, ends_at, params)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    run_id,
                    no,
                    scenario.kind,  # type: ignore[attr-defined]
                    scenario.target(),
                    _ts(begin),
                    _ts(end),
                    json.dumps(scenario.model_dump(exclude={"kind"})),
                ),
            )


def finish_run(
    conn: psycopg.Connection, run_id: str, produced: int, delivered: int, failed: int, effects: dict
) -> None:
    conn.execute(
        "update ground_truth.runs set finished_at = now(), produced = %s, delivered = %s, failed = %s, effects = %s"
        " where run_id = %s",
        (produced, delivered, failed, json.dumps(effects), run_id),
    )
