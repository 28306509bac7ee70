"""The event schema: `schemas/*.avsc` are the source of truth."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
EVENT_SCHEMA_FILE = SCHEMA_DIR / "content_event.avsc"


@lru_cache
def event_schema_text(path: Path = EVENT_SCHEMA_FILE) -> str:
    """The schema as compact JSON, exactly as registered in the schema registry."""
    return json.dumps(json.loads(path.read_text()), separators=(",", ":"))


@lru_cache
def parsed_event_schema(path: Path = EVENT_SCHEMA_FILE) -> dict:
    return fastavro.parse_schema(json.loads(path.read_text()))
