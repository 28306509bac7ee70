"""The event schemas: `schemas/*.avsc` are the source of truth, one file per version."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import fastavro

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
EVENT_SCHEMA_FILES = {1: SCHEMA_DIR / "content_event.avsc", 2: SCHEMA_DIR / "content_event.v2.avsc"}
LATEST_VERSION = max(EVENT_SCHEMA_FILES)


@lru_cache
def event_schema_text(version: int = LATEST_VERSION) -> str:
    """The schema as compact JSON, exactly as registered in the schema registry."""
    return json.dumps(json.loads(EVENT_SCHEMA_FILES[version].read_text()), separators=(",", ":"))


@lru_cache
def parsed_event_schema(version: int = LATEST_VERSION) -> dict:
    return fastavro.parse_schema(json.loads(EVENT_SCHEMA_FILES[version].read_text()))
