"""The errors a feed raises to its user."""

from __future__ import annotations


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
