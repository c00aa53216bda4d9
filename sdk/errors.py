"""The errors the SDK raises to its user: a feed's, and an account's (refusals before sending,
refusals by the venue, outcomes a lost connection left open)."""

from __future__ import annotations

import os

from schemas.trading import InvalidOrder


def sole_error(error: Exception) -> Exception:
    """The one error inside nested single-member groups (task groups wrap what their tasks raise)."""
    while isinstance(error, ExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


class FeedClosed(Exception):
    """The feed has ended; the message says why. ``failed`` is true when it ended by a policy
    (reconnects given up, a consumer too slow for ``overflow="fail"``), not by the user."""

    def __init__(self, reason: str, *, failed: bool = False) -> None:
        super().__init__(reason)
        self.failed = failed


class ConnectFailed(OSError):
    """The first connection of a feed could not be made; names the URL and the cause."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"could not connect to {url}: {connect_failure(cause)}")
        self.url = url


def connect_failure(cause: BaseException) -> str:
    """Why a connection attempt failed, in words: the system's reason when the error wraps one
    (anyio reports "All connection attempts failed" over the refusals it saw)."""
    underlying = cause.__cause__ if isinstance(cause.__cause__, OSError) else cause
    if isinstance(underlying, OSError) and underlying.errno is not None and underlying.errno > 0:
        return f"{os.strerror(underlying.errno).lower()} ({underlying})"
    return str(underlying) or type(underlying).__name__


class AccountNotReady(Exception):
    """A trading request while the account's private state is not rebuilt (connecting, or after
    a disconnect): nothing was sent. Requests are refused rather than queued, so no order goes out
    later on a state the user has not seen."""


class RequestRejected(Exception):
    """The venue refused a request (a cancel, an amend...); ``reason`` is the venue's own text.

    A refused placement is not an exception: ``place`` returns the ``rejected`` ``OrderUpdate``.
    """

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(f"{method} refused: {reason}")
        self.method = method
        self.reason = reason


class LoginRefused(Exception):
    """The venue refused the account's login on its socket (a wrong user or password); ``reason``
    is the venue's own text. Not retried: the credentials will not get better by themselves."""

    def __init__(self, exchange: str, reason: str) -> None:
        super().__init__(f"{exchange} refused the login: {reason}")
        self.reason = reason


class OutcomeUnknown(Exception):
    """The connection dropped after a request left and before its reply: the venue may or may
    not have acted on it. It is never re-sent; the account's streams show what happened."""


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
