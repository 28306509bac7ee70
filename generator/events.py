"""Synthetic content-store events (a first, simple model; the content-domain issue refines it)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

EVENT_TYPES = [
    "DOWNLOAD_STARTED",
    "DOWNLOAD_COMPLETED",
    "DOWNLOAD_FAILED",
    "STREAM_STARTED",
    "STREAM_ENDED",
    "PURCHASE",
]
EVENT_WEIGHTS = [30, 26, 2, 22, 18, 2]
CONTENT_TYPES = ["MOVIE", "TV_EPISODE", "MUSIC", "APP", "BOOK", "PODCAST"]
REGIONS = ["US", "GB", "DE", "FR", "JP", "BR", "IN", "AU"]
DEVICES = ["PHONE", "TABLET", "DESKTOP", "TV", "WATCH", "SPEAKER"]
NETWORKS = ["WIFI", "CELLULAR_5G", "CELLULAR_4G", "ETHERNET", "OTHER"]


def make_event(
    rng: random.Random,
    event_time_ms: int,
    content_id: str,
    event_type: str = "STREAM_STARTED",
    region: str = "US",
) -> dict:
    """One schema-valid event; fields not given are drawn from `rng`."""
    content_type = CONTENT_TYPES[hash(content_id) % len(CONTENT_TYPES)]
    failed = event_type == "DOWNLOAD_FAILED"
    purchase = event_type == "PURCHASE"
    sent = 0 if failed or purchase else rng.randint(50_000, 5_000_000)
    duration = rng.randint(200, 60_000) if sent else 0
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "event_time": event_time_ms,
        "content_id": content_id,
        "content_type": content_type,
        "user_id": f"u-{rng.randrange(1_000_000):06d}",
        "session_id": f"s-{rng.getrandbits(48):012x}",
        "region": region,
        "device": rng.choice(DEVICES),
        "os_version": f"{rng.randint(14, 18)}.{rng.randint(0, 5)}",
        "network": rng.choice(NETWORKS),
        "cdn_node": f"edge-{region.lower()}-{rng.randint(1, 2)}",
        "bytes_sent": sent,
        "duration_ms": duration,
        "ttfb_ms": rng.randint(20, 400) if not purchase else 0,
        "throughput_kbps": int(sent * 8 / duration) if duration else 0,
        "error_code": "HTTP_503" if failed else None,
        "price_minor": rng.choice([99, 199, 499, 999]) if purchase else 0,
        "currency": "USD" if purchase else None,
    }


def random_events(seed: int, start_ms: int, rate: float, catalog_size: int = 500) -> Iterator[dict]:
    """An endless, deterministic stream: event times advance by 1/rate seconds from start_ms."""
    rng = random.Random(seed)
    catalog = [f"item-{i:05d}" for i in range(catalog_size)]
    step_ms = 1000.0 / rate
    i = 0
    while True:
        # Popularity falls off with rank (a first approximation of the long tail).
        content = catalog[min(int(rng.paretovariate(1.2)) - 1, catalog_size - 1)]
        yield make_event(
            rng,
            int(start_ms + i * step_ms),
            content,
            event_type=rng.choices(EVENT_TYPES, EVENT_WEIGHTS)[0],
            region=rng.choice(REGIONS),
        )
        i += 1
