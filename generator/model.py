"""The event model: batches of events as columns (numpy arrays), drawn from the store's behaviour.

Columnar on purpose: drawing and encoding 10,000 events at once in numpy costs a few microseconds
per event, where building one dict per event costs far more (see bench/generator_throughput.py).

Traffic per region follows the local time of day (`domain.diurnal_factor`); content follows the
catalog's Zipf popularity with new-release ramps; each content type has its own mix of events.
Everything is deterministic for a seed and a start time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from generator import domain
from generator.catalog import Catalog

_NODE_REGION = np.array([i for i, r in enumerate(domain.REGIONS) for _ in r.edge_nodes], dtype=np.int16)
_REGION_FIRST_NODE = np.cumsum([0] + [len(r.edge_nodes) for r in domain.REGIONS])[:-1]
_REGION_NODE_COUNT = np.array([len(r.edge_nodes) for r in domain.REGIONS])
_REGION_CURRENCY = np.array([domain.CURRENCIES.index(r.currency) for r in domain.REGIONS], dtype=np.int8)
_REGION_FX = np.array([r.minor_per_usd_cent for r in domain.REGIONS])
# Each edge node has its own typical time to first byte (ms).
_NODE_BASE_TTFB = np.random.default_rng(1234).uniform(25, 70, size=len(domain.EDGE_NODES))


def _probabilities(weights: tuple | np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


_DEVICE_P = _probabilities(domain.DEVICE_WEIGHTS)
_NETWORK_P = _probabilities(domain.NETWORK_WEIGHTS)
_ERROR_P = _probabilities(domain.ERROR_WEIGHTS)
_OS_CDF = np.cumsum([_probabilities(w) for w in domain.OS_WEIGHTS_BY_DEVICE], axis=1)
_EVENT_CDF = np.cumsum([_probabilities(w) for w in domain.EVENT_MIX_BY_CONTENT_TYPE], axis=1)


@dataclass
class EventBatch:
    """n events; categorical columns hold indexes into the `domain` tuples (or the catalog)."""

    event_id: np.ndarray  # int64
    event_type: np.ndarray  # int8 -> domain.EVENT_TYPES
    event_time: np.ndarray  # int64, ms since epoch (UTC)
    content: np.ndarray  # int32 -> catalog
    content_type: np.ndarray  # int8 -> domain.CONTENT_TYPES
    user_id: np.ndarray  # int64
    session_id: np.ndarray  # int64
    region: np.ndarray  # int8 -> domain.REGIONS
    device: np.ndarray  # int8 -> domain.DEVICES
    os_version: np.ndarray  # int8 -> domain.OS_VERSIONS
    network: np.ndarray  # int8 -> domain.NETWORKS
    cdn_node: np.ndarray  # int16 -> domain.EDGE_NODES
    bytes_sent: np.ndarray  # int64
    duration_ms: np.ndarray  # int32
    ttfb_ms: np.ndarray  # int32
    throughput_kbps: np.ndarray  # int32
    error_code: np.ndarray  # int8 -> domain.ERROR_CODES, -1 = none
    price_minor: np.ndarray  # int64
    currency: np.ndarray  # int8 -> domain.CURRENCIES, -1 = none
    referrer: np.ndarray  # int8 -> domain.REFERRERS, -1 = none (schema v2 only)

    def __len__(self) -> int:
        return len(self.event_id)

    def take(self, index: np.ndarray) -> EventBatch:
        return EventBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(batches: list[EventBatch]) -> EventBatch:
        return EventBatch(**{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(EventBatch)})

    def to_dicts(self, catalog: Catalog, schema_version: int = 1) -> list[dict]:
        """Row form, as the Avro schema names the fields (for tests, JSON comparison, single sends)."""
        rows = []
        for i in range(len(self)):
            err, cur = int(self.error_code[i]), int(self.currency[i])
            row = {
                "event_id": int(self.event_id[i]),
                "event_type": domain.EVENT_TYPES[self.event_type[i]],
                "event_time": int(self.event_time[i]),
                "content_id": catalog.content_id[self.content[i]],
                "content_type": domain.CONTENT_TYPES[self.content_type[i]],
                "user_id": int(self.user_id[i]),
                "session_id": int(self.session_id[i]),
                "region": domain.REGION_CODES[self.region[i]],
                "device": domain.DEVICES[self.device[i]],
                "os_version": domain.OS_VERSIONS[self.os_version[i]],
                "network": domain.NETWORKS[self.network[i]],
                "cdn_node": domain.EDGE_NODES[self.cdn_node[i]],
                "bytes_sent": int(self.bytes_sent[i]),
                "duration_ms": int(self.duration_ms[i]),
                "ttfb_ms": int(self.ttfb_ms[i]),
                "throughput_kbps": int(self.throughput_kbps[i]),
                "error_code": domain.ERROR_CODES[err] if err >= 0 else None,
                "price_minor": int(self.price_minor[i]),
                "currency": domain.CURRENCIES[cur] if cur >= 0 else None,
            }
            if schema_version >= 2:
                ref = int(self.referrer[i])
                row["referrer"] = domain.REFERRERS[ref] if ref >= 0 else None
            rows.append(row)
        return rows


class EventModel:
    """Draws batches of events. Scenarios (generator.scenarios) adjust the draws and the results."""

    def __init__(self, catalog: Catalog, seed: int, users_per_region: int = 200_000) -> None:
        self.catalog = catalog
        self.rng = np.random.default_rng(seed)
        self.users_per_region = users_per_region
        self._weights_cache: tuple[int, np.ndarray] | None = None

    def region_weights(self, t_ms: int) -> np.ndarray:
        hour_utc = (t_ms / 3_600_000) % 24
        w = np.array([r.weight * domain.diurnal_factor((hour_utc + r.utc_offset_h) % 24) for r in domain.REGIONS])
        return w / w.sum()

    def content_weights(self, t_ms: int) -> np.ndarray:
        minute = t_ms // 60_000  # popularity moves slowly: recompute once a simulated minute
        if self._weights_cache is None or self._weights_cache[0] != minute:
            self._weights_cache = (minute, self.catalog.weights_at(t_ms))
        return self._weights_cache[1]

    def draw(self, event_time: np.ndarray, region_boost: np.ndarray | None = None) -> EventBatch:
        """Events at the given event times (ms). `region_boost` multiplies regional traffic shares."""
        rng = self.rng
        n = len(event_time)
        t_mid = int(event_time[n // 2]) if n else 0
        rw = self.region_weights(t_mid)
        if region_boost is not None:
            rw = rw * region_boost
            rw = rw / rw.sum()
        region = rng.choice(len(rw), size=n, p=rw).astype(np.int8)
        cw = self.content_weights(t_mid)
        content = np.searchsorted(np.cumsum(cw), rng.random(n) * cw.sum()).clip(0, len(cw) - 1).astype(np.int32)
        ctype = self.catalog.content_type[content]
        device = rng.choice(len(_DEVICE_P), size=n, p=_DEVICE_P).astype(np.int8)
        os_version = (rng.random(n)[:, None] > _OS_CDF[device]).sum(axis=1).astype(np.int8)
        network = rng.choice(len(_NETWORK_P), size=n, p=_NETWORK_P).astype(np.int8)
        node = (_REGION_FIRST_NODE[region] + rng.integers(0, 1 << 30, size=n) % _REGION_NODE_COUNT[region]).astype(
            np.int16
        )
        etype = (rng.random(n)[:, None] > _EVENT_CDF[ctype]).sum(axis=1).astype(np.int8)

        # Failures: some downloads fail, some stream starts error (the CDN's error rate).
        error = np.full(n, -1, dtype=np.int8)
        fails = rng.random(n) < domain.BASE_FAILURE_RATE
        failed_download = fails & (etype == domain.DOWNLOAD_COMPLETED)
        etype[failed_download] = domain.DOWNLOAD_FAILED
        failed = failed_download | (fails & (etype == domain.STREAM_STARTED))
        error[failed] = rng.choice(len(_ERROR_P), size=int(failed.sum()), p=_ERROR_P)

        # Delivery quality: time to first byte from the node and the network; throughput by network.
        cdn_event = etype != domain.PURCHASE
        ttfb = _NODE_BASE_TTFB[node] + np.array(domain.NETWORK_TTFB_MS)[network]
        ttfb = ttfb * rng.lognormal(0.0, 0.35, size=n)
        kbps = np.array(domain.NETWORK_KBPS)[network] * rng.lognormal(0.0, 0.5, size=n)
        size_bytes = (self.catalog.download_mb[content] * 1_000_000).astype(np.int64)
        watch_ms = rng.gamma(2.0, 9 * 60_000 / 2.0, size=n)  # about 9 minutes on average
        stream_kbps = np.array(domain.STREAM_KBPS)[ctype]
        bytes_sent = np.zeros(n, dtype=np.int64)
        duration = np.zeros(n, dtype=np.int64)
        done = etype == domain.DOWNLOAD_COMPLETED
        bytes_sent[done] = size_bytes[done]
        duration[done] = (size_bytes[done] * 8 / kbps[done]).astype(np.int64)  # bits / (kbit/s) = ms
        partial = etype == domain.DOWNLOAD_FAILED
        got = (size_bytes[partial] * rng.random(int(partial.sum())) * 0.5).astype(np.int64)
        bytes_sent[partial] = got
        duration[partial] = (got * 8 / kbps[partial]).astype(np.int64)
        ended = etype == domain.STREAM_ENDED
        duration[ended] = watch_ms[ended].astype(np.int64)
        bytes_sent[ended] = (stream_kbps[ended] * watch_ms[ended] / 8).astype(np.int64)  # kbit/s * ms / 8 = bytes
        started_ok = (etype == domain.STREAM_STARTED) & (error < 0)
        bytes_sent[started_ok] = (stream_kbps[started_ok] * 250).astype(np.int64)  # first 2 s of buffer
        moved = bytes_sent > 0
        throughput = np.where(moved & (duration > 0), bytes_sent * 8 / np.maximum(duration, 1), 0)

        # Purchases: the item's price tier in the region's currency (minor units).
        purchase = etype == domain.PURCHASE
        price = np.zeros(n, dtype=np.int64)
        price[purchase] = np.round(self.catalog.price_cents[content[purchase]] * _REGION_FX[region[purchase]])
        currency = np.where(purchase, _REGION_CURRENCY[region], -1).astype(np.int8)

        referrer = np.where(rng.random(n) < 0.8, rng.integers(0, len(domain.REFERRERS), size=n), -1).astype(np.int8)
        return EventBatch(
            event_id=rng.integers(0, np.iinfo(np.int64).max, size=n, dtype=np.int64),
            event_type=etype,
            event_time=np.asarray(event_time, dtype=np.int64),
            content=content,
            content_type=ctype,
            user_id=region.astype(np.int64) * 10_000_000 + rng.integers(0, self.users_per_region, size=n),
            session_id=rng.integers(0, 1 << 40, size=n, dtype=np.int64),
            region=region,
            device=device,
            os_version=os_version,
            network=network,
            cdn_node=node,
            bytes_sent=bytes_sent,
            duration_ms=duration.astype(np.int32),
            ttfb_ms=np.where(cdn_event, ttfb, 0).astype(np.int32),
            throughput_kbps=throughput.astype(np.int32),
            error_code=error,
            price_minor=price,
            currency=currency,
            referrer=referrer,
        )
