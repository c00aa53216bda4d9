"""A venue's own count of a user's requests against its published limit, sans-I/O.

The client paces itself (``sdk.pacing``); the venue is what refuses a request over the limit. A
refused request spends nothing, so a client that stops for a moment is served again.
"""

from __future__ import annotations

from sdk.pacing import RequestLimit


class RequestAllowance:
    """``limit.burst`` requests at once, refilled at ``limit.per_second``."""

    def __init__(self, limit: RequestLimit) -> None:
        self._limit = limit
        self._tokens = float(limit.burst)
        self._updated_ns: int | None = None

    def admit(self, now_ns: int) -> bool:
        """Whether a request arriving at ``now_ns`` is within the limit (and if so, spend it)."""
        if self._updated_ns is not None:
            refill = max(now_ns - self._updated_ns, 0) / 1e9 * self._limit.per_second
            self._tokens = min(float(self._limit.burst), self._tokens + refill)
        self._updated_ns = now_ns
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
