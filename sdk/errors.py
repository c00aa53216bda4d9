"""The errors the SDK raises to its user: a feed's, and an account's refusals before sending."""

from __future__ import annotations

from schemas.trading import InvalidOrder


class FeedClosed(Exception):
    """The feed has ended; the message says why. ``failed`` is true when it ended by a policy
    (reconnects given up, a consumer too slow for ``overflow="fail"``), not by the user."""

    def __init__(self, reason: str, *, failed: bool = False) -> None:
        super().__init__(reason)
        self.failed = failed


class ConnectFailed(OSError):
    """The first connection of a feed could not be made; names the URL and the cause."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"could not connect to {url}: {str(cause) or type(cause).__name__}")
        self.url = url


class PreTradeRefused(InvalidOrder):
    """An order the venue would reject, by its instrument data, refused before anything is sent.
    ``rule`` names the rule it breaks; the message names the symbol, the order's value and the limit."""

    def __init__(self, rule: str, symbol: str, detail: str) -> None:
        super().__init__(rule, f"{symbol}: {detail}")
        self.symbol = symbol


class RateLimited(Exception):
    """A transaction refused before it is sent because it would take the venue's trading rate
    counter for its symbol over the threshold, where the venue would reject it. ``wait_s`` is how
    long until the counter has decayed enough for it to fit."""

    def __init__(self, symbol: str, level: float, threshold: float, wait_s: float) -> None:
        super().__init__(
            f"{symbol}: trading rate counter at {level:.2f} of {threshold:g}; fits again in {wait_s:.3f} s"
        )
        self.symbol = symbol
        self.level = level
        self.threshold = threshold
        self.wait_s = wait_s
