"""Rate limiting per API key with the `limits` library (sliding window counter), answered with 429 + Retry-After.

The sliding window counter (limits' `SlidingWindowCounterRateLimiter`) counts the requests of the current
fixed window plus those of the previous one weighted by how much of it still overlaps the sliding window: the
same limit as a moving window, approximated, in constant memory and with no background work. The moving window
that was used before made the in-memory storage expire its per-request event list through
`asyncio.to_thread` on almost every request (the synchronous storage starts a `threading.Timer` thread
instead): under load that thread traffic took the GIL from the event loop and cost about a third of the API's
CPU per request (py-spy and cProfile, docs/api.md#performance).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


class KeyRateLimiter:
    """Every limit of `spec` ("100/second;3000/minute") applies to each key separately."""

    def __init__(self, spec: str, storage_uri: str = "memory://") -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(uri))

    async def retry_after(self, key_id: str) -> int | None:
        """Count one request of `key_id`: None when allowed, else the whole seconds until it would be."""
        for item in self.items:
            if not await self.limiter.hit(item, "api", key_id):
                stats = await self.limiter.get_window_stats(item, "api", key_id)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
