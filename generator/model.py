"""The event model: batches of events as columns (numpy arrays), drawn from the store's behaviour.

Columnar on purpose: drawing and encoding 10,000 events at once in numpy costs a few microseconds
per event, where building one dict per event costs far more (see bench/generator_throughput.py).

Traffic per region follows the local time of day (`domain.diurnal_factor`); content follows the
catalog's Zipf popularity with new-release ramps; each content type has its own mix of sessions.
Everything is deterministic for a seed and a start time.

Sessions: a download start is followed by its completion or failure, a stream start (unless it errored)
by its end, each in the same session (user, item, region, device, node) a plausible time later: the
download's transfer time, the viewer's watch time. Those follow-ups wait in `_Pending` until their time
comes and then take the slot of a new session start, so a batch still holds exactly the events asked for.
"""

from __future__ import annotations

from collections.abc import Callable
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
_START_CDF = np.cumsum([_probabilities(w) for w in domain.SESSION_MIX_BY_CONTENT_TYPE], axis=1)
_START_TYPES = np.array(domain.SESSION_START_TYPES, dtype=np.int8)
_NETWORK_KBPS = np.array(domain.NETWORK_KBPS, dtype=float)
_NETWORK_TTFB = np.array(domain.NETWORK_TTFB_MS, dtype=float)
_STREAM_KBPS = np.array(domain.STREAM_KBPS, dtype=float)
# Nothing finishes within a second of starting; a model draw handles at most this much event time at once,
# so a start's follow-up is never due in the chunk that started it.
MIN_FOLLOW_UP_MS = 1_000
MAX_FOLLOW_UP_MS = 3 * 3_600_000  # the slowest downloads on the slowest networks are cut here


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
    # Not sent: for a completion, failure or stream end, its session start's event time (ms); -1 otherwise.
    started_ms: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.event_id)

    def take(self, index: np.ndarray) -> EventBatch:
        return EventBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def part(self, part: slice) -> EventBatch:
        """A view of consecutive events (no copy)."""
        return EventBatch(**{f.name: getattr(self, f.name)[part] for f in fields(self)})

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
        self.pending = _Pending()

    def region_weights(self, t_ms: int) -> np.ndarray:
        hour_utc = (t_ms / 3_600_000) % 24
        w = np.array([r.weight * domain.diurnal_factor((hour_utc + r.utc_offset_h) % 24) for r in domain.REGIONS])
        return w / w.sum()

    def content_weights(self, t_ms: int) -> np.ndarray:
        minute = t_ms // 60_000  # popularity moves slowly: recompute once a simulated minute
        if self._weights_cache is None or self._weights_cache[0] != minute:
            self._weights_cache = (minute, self.catalog.weights_at(t_ms))
        return self._weights_cache[1]

    def draw(
        self,
        event_time: np.ndarray,
        region_boost: np.ndarray | None = None,
        adjust: Callable[[EventBatch], EventBatch] | None = None,
    ) -> EventBatch:
        """Events at the given event times (ms): new session starts and the follow-ups now due.

        `region_boost` multiplies regional traffic shares of new sessions; `adjust` changes what happened
        (an outage fails deliveries, a release draws viewers) before follow-ups are scheduled from it.
        """
        times = np.asarray(event_time, dtype=np.int64)
        if len(times) == 0 or times[-1] - times[0] < MIN_FOLLOW_UP_MS:
            return self._chunk(times, region_boost, adjust)
        cuts = np.flatnonzero(np.diff((times - times[0]) // MIN_FOLLOW_UP_MS)) + 1
        return EventBatch.concat([self._chunk(c, region_boost, adjust) for c in np.split(times, cuts)])

    def _chunk(
        self, slots: np.ndarray, region_boost: np.ndarray | None, adjust: Callable[[EventBatch], EventBatch] | None
    ) -> EventBatch:
        n = len(slots)
        due = self.pending.pop(int(slots[-1]), n) if n else None
        if due is None:
            batch = self._starts(slots, region_boost)
        else:
            # Follow-ups keep their own time (never before this chunk); new sessions take the other slots.
            due.event_time = np.maximum(due.event_time, slots[0])
            keep = np.linspace(0, n - 1, n - len(due)).astype(np.int64) if n > len(due) else np.empty(0, np.int64)
            both = EventBatch.concat([self._starts(slots[keep], region_boost), due])
            batch = both.take(np.argsort(both.event_time, kind="stable"))
        if adjust is not None:
            batch = adjust(batch)
        self.pending.add(self._follow_ups(batch))
        return batch

    def _starts(self, event_time: np.ndarray, region_boost: np.ndarray | None = None) -> EventBatch:
        """New sessions: download starts, stream starts (about 1% error), purchases."""
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
        etype = _START_TYPES[(rng.random(n)[:, None] > _START_CDF[ctype]).sum(axis=1)]

        # Some stream starts error (the CDN's error rate); downloads fail at their outcome (_follow_ups).
        error = np.full(n, -1, dtype=np.int8)
        failed = (rng.random(n) < domain.BASE_FAILURE_RATE) & (etype == domain.STREAM_STARTED)
        error[failed] = rng.choice(len(_ERROR_P), size=int(failed.sum()), p=_ERROR_P)

        purchase = etype == domain.PURCHASE
        ttfb = (_NODE_BASE_TTFB[node] + _NETWORK_TTFB[network]) * rng.lognormal(0.0, 0.35, size=n)
        bytes_sent = np.zeros(n, dtype=np.int64)
        started_ok = (etype == domain.STREAM_STARTED) & (error < 0)
        bytes_sent[started_ok] = (_STREAM_KBPS[ctype[started_ok]] * 250).astype(np.int64)  # first 2 s of buffer

        # Purchases: the item's price tier in the region's currency (minor units).
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
            duration_ms=np.zeros(n, dtype=np.int32),
            ttfb_ms=np.where(purchase, 0, ttfb).astype(np.int32),
            throughput_kbps=np.zeros(n, dtype=np.int32),
            error_code=error,
            price_minor=price,
            currency=currency,
            referrer=referrer,
            started_ms=np.full(n, -1, dtype=np.int64),
        )

    def _follow_ups(self, batch: EventBatch) -> EventBatch:
        """The completion or failure of each download start and the end of each stream that started."""
        rng = self.rng
        opens = (batch.event_type == domain.DOWNLOAD_STARTED) | (
            (batch.event_type == domain.STREAM_STARTED) & (batch.error_code < 0)
        )
        f = batch.take(np.flatnonzero(opens))  # same session, user, item, region, device, network, node
        k = len(f)
        download = f.event_type == domain.DOWNLOAD_STARTED
        failed = download & (rng.random(k) < domain.BASE_FAILURE_RATE)
        kbps = _NETWORK_KBPS[f.network] * rng.lognormal(0.0, 0.5, size=k)
        size_bytes = self.catalog.download_mb[f.content] * 1_000_000
        watch_ms = rng.gamma(2.0, 9 * 60_000 / 2.0, size=k)  # about 9 minutes on average
        got = np.where(failed, size_bytes * rng.random(k) * 0.5, size_bytes)
        sent = np.where(download, got, _STREAM_KBPS[f.content_type] * watch_ms / 8)  # kbit/s * ms / 8 = bytes
        took = np.where(download, got * 8 / kbps, watch_ms)  # bits / (kbit/s) = ms
        duration = took.clip(MIN_FOLLOW_UP_MS, MAX_FOLLOW_UP_MS).astype(np.int64)
        bytes_sent = sent.astype(np.int64)
        f.started_ms = f.event_time
        f.event_time = f.event_time + duration
        f.event_type = np.where(download, np.where(failed, domain.DOWNLOAD_FAILED, domain.DOWNLOAD_COMPLETED),
                                domain.STREAM_ENDED).astype(np.int8)  # fmt: skip
        f.error_code = np.full(k, -1, dtype=np.int8)
        f.error_code[failed] = rng.choice(len(_ERROR_P), size=int(failed.sum()), p=_ERROR_P)
        f.event_id = rng.integers(0, np.iinfo(np.int64).max, size=k, dtype=np.int64)
        ttfb = (_NODE_BASE_TTFB[f.cdn_node] + _NETWORK_TTFB[f.network]) * rng.lognormal(0.0, 0.35, size=k)
        f.ttfb_ms = ttfb.astype(np.int32)  # a new request of its own, not the start's
        f.bytes_sent = bytes_sent
        f.duration_ms = duration.astype(np.int32)
        f.throughput_kbps = np.where(bytes_sent > 0, bytes_sent * 8 / duration, 0).astype(np.int32)
        return f


class _Pending:
    """Follow-ups not yet due, as runs sorted by due time: one record array per run (a copy is one memcpy,
    not one per column) beside its due times.

    Runs are kept in tiers: when a tier holds `FANOUT` runs they are merged into one run of the next tier,
    so there are O(FANOUT log n) runs and each follow-up is copied O(log n / log FANOUT) times. Taking
    what is due costs a binary search per run, not a pass over everything pending (the benchmark keeps
    a million follow-ups pending).
    """

    FANOUT = 16  # measured: fewer copies than 8, and a search over 16 runs per tier costs microseconds

    def __init__(self) -> None:
        self.tiers: list[list[tuple[np.ndarray, np.ndarray]]] = []  # runs of (due ms, records), sorted by due

    def __len__(self) -> int:
        return sum(len(due) for tier in self.tiers for due, _ in tier)

    def add(self, events: EventBatch) -> None:
        if not len(events):
            return
        rows = np.empty(len(events), dtype=_ROW)
        for name in _ROW.names:
            rows[name] = getattr(events, name)
        order = np.argsort(events.event_time, kind="stable")
        self._push(events.event_time[order], rows.view(_RAW)[order].view(_ROW))

    def _push(self, due: np.ndarray, rows: np.ndarray, tier: int = 0) -> None:
        while True:
            if tier == len(self.tiers):
                self.tiers.append([])
            self.tiers[tier].append((due, rows))
            if len(self.tiers[tier]) < self.FANOUT:
                return
            due, rows = _merge(self.tiers[tier])
            self.tiers[tier] = []
            tier += 1

    def pop(self, until_ms: int, limit: int) -> EventBatch | None:
        """Up to `limit` follow-ups due at or before `until_ms`, earliest first; None when none is due."""
        taken = []
        for tier in self.tiers:
            for i, (due, rows) in enumerate(tier):
                k = int(np.searchsorted(due, until_ms, side="right"))
                if k:
                    taken.append((due[:k], rows[:k]))
                    tier[i] = (due[k:], rows[k:])
            tier[:] = [run for run in tier if len(run[0])]
        if not taken:
            return None
        due, rows = _merge(taken) if len(taken) > 1 else taken[0]
        if len(due) > limit:  # more due than slots: the rest go out in the next chunk
            self._push(due[limit:].copy(), rows[limit:].copy())
            rows = rows[:limit]
        return EventBatch(**{name: np.ascontiguousarray(rows[name]) for name in _ROW.names})


_ROW = np.dtype([(f.name, np.dtype(t)) for f, t in zip(fields(EventBatch), (
    np.int64, np.int8, np.int64, np.int32, np.int8, np.int64, np.int64, np.int8, np.int8, np.int8, np.int8,
    np.int16, np.int64, np.int32, np.int32, np.int32, np.int8, np.int64, np.int8, np.int8, np.int64,
), strict=True)])  # fmt: skip
_RAW = np.dtype((np.void, _ROW.itemsize))


def _merge(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted runs into one (stable: earlier runs first on ties); the sort finds the runs (timsort)."""
    due = np.concatenate([d for d, _ in runs])
    order = np.argsort(due, kind="stable")
    # Whole records as opaque bytes: numpy copies those without visiting each field.
    raw = np.concatenate([r.view(_RAW) for _, r in runs])[order]
    return due[order], raw.view(_ROW)
