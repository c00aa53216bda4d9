"""When to try connecting again after a connection is lost."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter, capped; ``max_attempts=None`` never gives up.

    Full jitter (a uniform delay between zero and the exponential bound) keeps many clients that
    lost the same server from reconnecting in lockstep.
    """

    initial: float = 0.25
    cap: float = 30.0
    max_attempts: int | None = None

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before reconnect attempt number ``attempt`` (1-based)."""
        bound = min(self.cap, self.initial * 2 ** min(attempt - 1, 32))
        return rng.uniform(0, bound)

    def exhausted(self, attempt: int) -> bool:
        """Whether attempt number ``attempt`` is one more than allowed."""
        return self.max_attempts is not None and attempt > self.max_attempts
