"""Per-key rate limits on the expensive routes (suggestions, semantic search, POST /v1/events): a
token bucket per key and API process, `burst` requests at once, refilled at `per_minute`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, *, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic):
        """`per_minute` 0: no limit."""
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # owner -> (tokens, when counted)

    def take(self, owner: str) -> int:
        """Spend one request of `owner`'s; 0 when allowed, else the whole seconds until it would be."""
        if self._rate <= 0:
            return 0
        now = self._clock()
        tokens, then = self._buckets.get(owner, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1:
            self._buckets[owner] = (tokens - 1, now)
            return 0
        self._buckets[owner] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self._rate))
