"""The errors a feed or an account raises to its user."""

from __future__ import annotations


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
        super().__init__(f"could not connect to {url}: {str(cause) or type(cause).__name__}")
        self.url = url


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


class OutcomeUnknown(Exception):
    """The connection dropped after a request left and before its reply: the venue may or may
    not have acted on it. It is never re-sent; the account's streams show what happened."""
