"""When to try connecting again after a connection is lost."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter, capped; ``max_attempts=None`` never gives up.

    Full jitter (a uniform delay between zero and the exponential bound) keeps many clients that
    lost the same server from reconnecting in lockstep. The backoff starts over only after a
    connection stayed up ``healthy_after`` seconds, so a server that accepts and drops at once
    still sees growing delays; after the exchange announced maintenance no attempt comes sooner
    than ``maintenance_floor`` seconds (Kraken asks for at least 5).
    """

    initial: float = 0.25
    cap: float = 30.0
    max_attempts: int | None = None
    healthy_after: float = 60.0
    maintenance_floor: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before reconnect attempt number ``attempt`` (1-based)."""
        bound = min(self.cap, self.initial * 2 ** min(attempt - 1, 32))
        return rng.uniform(0, bound)

    def exhausted(self, attempt: int) -> bool:
        """Whether attempt number ``attempt`` is one more than allowed."""
        return self.max_attempts is not None and attempt > self.max_attempts
