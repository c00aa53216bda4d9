"""The seam between a feed and its transport: a connector opens connections to a URL.

A feed only ever talks to a ``Connection``: receive whole messages in batches, send text, ping,
close. The default connector speaks WebSocket over TCP (``sdk.transport``); tests, replays and
other transports plug in their own without touching the feed.
"""

from __future__ import annotations

from typing import Protocol

import anyio

from sdk.transport import (
    DEFAULT_MAX_MESSAGE,
    DEFAULT_WRITE_TIMEOUT,
    ConnectionClosed,
    HandshakeFailed,
    WebSocket,
    connect,
)

CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    HandshakeFailed,
    ConnectionClosed,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
)
"""What a connection (or an attempt to open one) raises when the network, not the code, failed."""


class Connection(Protocol):
    """One open connection to an exchange, as a feed uses it."""

    async def receive_batch(self) -> list[bytes]:
        """Every message that arrived in one read (at least one); ``ConnectionClosed`` at the end."""
        ...

    async def send_text(self, text: str) -> None: ...

    async def ping(self) -> None:
        """A transport-level keep-alive (WebSocket ping), for protocols without their own."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    async def abort(self, reason: str) -> None:
        """Drop the connection at once; ``receive_batch`` then raises ``ConnectionClosed(1006, reason)``."""
        ...


class Connector(Protocol):
    """Opens connections; raises one of ``CONNECTION_ERRORS`` (or ``TimeoutError``) when it cannot."""

    async def connect(self, url: str) -> Connection: ...


class WebSocketConnector:
    """WebSocket over TCP (TLS for ``wss://``, certificates verified): the default connector.

    Plain ``ws://`` is refused except to this machine unless ``allow_plaintext`` is set; a message
    larger than ``max_message`` bytes closes the connection with code 1009. ``timeout`` bounds the
    connection and handshake; ``write_timeout`` bounds every write after it, so a venue that stops
    reading costs the connection, never a stuck feed. ``log_frames=False`` keeps frames out of the
    debug log (an account's connector: its frames carry the session token).
    """

    def __init__(
        self,
        *,
        max_message: int = DEFAULT_MAX_MESSAGE,
        allow_plaintext: bool = False,
        timeout: float = 10.0,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
        log_frames: bool = True,
    ) -> None:
        self.max_message = max_message
        self.log_frames = log_frames
        self.allow_plaintext = allow_plaintext
        self.timeout = timeout
        self.write_timeout = write_timeout

    async def connect(self, url: str) -> WebSocket:
        return await connect(
            url,
            max_message=self.max_message,
            allow_plaintext=self.allow_plaintext,
            timeout=self.timeout,
            write_timeout=self.write_timeout,
            log_frames=self.log_frames,
        )
