"""Client-side request pacing, so a burst of subscribes never trips an exchange's rate limit."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio


@dataclass(frozen=True, kw_only=True)
class RequestLimit:
    """At most ``per_second`` requests a second on average, and ``burst`` at once."""

    per_second: float
    burst: int


class TokenBucket:
    """Waits as long as needed before each request to stay within a ``RequestLimit``."""

    def __init__(self, limit: RequestLimit) -> None:
        self._limit = limit
        self._tokens = float(limit.burst)
        self._updated = time.monotonic()
        self._lock = anyio.Lock()

    async def acquire(self) -> None:
        """Take one request's worth, sleeping until it is available."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self._limit.burst, self._tokens + (now - self._updated) * self._limit.per_second)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await anyio.sleep((1 - self._tokens) / self._limit.per_second)
