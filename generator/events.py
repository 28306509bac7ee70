"""Hand-made single events (dicts in the schema's shape), for tests and examples.

The generator itself draws events in columnar batches (generator.model); this helper builds one
schema-valid event with the fields a test cares about.
"""

from __future__ import annotations

import random

from generator import domain


def make_event(
    rng: random.Random,
    event_time_ms: int,
    content_id: str,
    event_type: str = "STREAM_STARTED",
    region: str = "US",
    cdn_node: str | None = None,
    error_code: str | None = None,
    ttfb_ms: int | None = None,
    referrer: str | None = None,
) -> dict:
    """One schema-valid event (v2 shape; v1 producers drop `referrer`)."""
    prefix = content_id.split("-", 1)[0]
    ctype = (
        domain.CONTENT_TYPES[domain.CONTENT_ID_PREFIX.index(prefix)] if prefix in domain.CONTENT_ID_PREFIX else "MUSIC"
    )
    purchase = event_type == "PURCHASE"
    failed = error_code is not None or event_type == "DOWNLOAD_FAILED"
    sent = 0 if purchase or failed else rng.randint(50_000, 5_000_000)
    duration = rng.randint(200, 60_000) if sent else 0
    region_info = domain.REGIONS[domain.REGION_CODES.index(region)]
    return {
        "event_id": rng.getrandbits(63),
        "event_type": event_type,
        "event_time": event_time_ms,
        "content_id": content_id,
        "content_type": ctype,
        "user_id": rng.randrange(10_000_000),
        "session_id": rng.getrandbits(40),
        "region": region,
        "device": rng.choice(domain.DEVICES),
        "os_version": rng.choice(domain.OS_VERSIONS),
        "network": rng.choice(domain.NETWORKS),
        "cdn_node": cdn_node or rng.choice(region_info.edge_nodes),
        "bytes_sent": sent,
        "duration_ms": duration,
        "ttfb_ms": ttfb_ms if ttfb_ms is not None else (0 if purchase else rng.randint(20, 400)),
        "throughput_kbps": int(sent * 8 / duration) if duration else 0,
        "error_code": error_code or ("HTTP_503" if event_type == "DOWNLOAD_FAILED" else None),
        "price_minor": rng.choice([99, 199, 499, 999]) if purchase else 0,
        "currency": region_info.currency if purchase else None,
        "referrer": referrer,
    }
