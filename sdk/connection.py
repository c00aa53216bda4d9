"""The seam between a feed and its transport: a connector opens connections to a URL.

A feed only ever talks to a ``Connection``: receive whole messages in batches, send text, ping,
close. Two connectors speak WebSocket over TCP: websockets' protocol on anyio streams
(``sdk.transport``, asyncio and trio) and picows (``sdk.picows_transport``, asyncio only, the
``xfeeds[fast]`` extra). ``DefaultConnector`` picks one per connection; tests, replays and other
transports plug in their own without touching the feed.
"""

from __future__ import annotations

import asyncio
import os
from functools import cache
from importlib.util import find_spec
from typing import Literal, Protocol, TypedDict, Unpack

import anyio

from sdk.transport import (
    ConnectionClosed,
    ConnectorSettings,
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


class WebSocketConnector(ConnectorSettings):
    """WebSocket over TCP with websockets' protocol (TLS for ``wss://``, certificates verified), on
    asyncio or trio; its options are ``ConnectorSettings``."""

    async def connect(self, url: str) -> WebSocket:
        return await connect(
            url,
            max_message=self.max_message,
            allow_plaintext=self.allow_plaintext,
            timeout=self.timeout,
            write_timeout=self.write_timeout,
            log_frames=self.log_frames,
        )


class ConnectorOptions(TypedDict, total=False):
    """What every WebSocket connector takes (see ``ConnectorSettings``), as keyword options."""

    max_message: int
    allow_plaintext: bool
    timeout: float
    write_timeout: float
    log_frames: bool


TRANSPORT_VARIABLE = "XFEEDS_TRANSPORT"
"""Environment variable choosing the transport: ``auto`` (the default), ``websockets`` or ``picows``."""

Transport = Literal["websockets", "picows"]


@cache
def fast_transport_installed() -> bool:
    """Whether picows (``pip install 'xfeeds[fast]'``) can be imported."""
    return find_spec("picows") is not None


def running_on_asyncio() -> bool:
    """Whether the calling task runs on an asyncio loop (picows needs one; trio has none)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def chosen_transport() -> Transport:
    """picows where it is installed and the loop is asyncio, websockets elsewhere, unless
    ``XFEEDS_TRANSPORT`` says otherwise (``picows`` where it cannot run is an error, not a fallback)."""
    wanted = os.environ.get(TRANSPORT_VARIABLE, "auto")
    if wanted == "websockets":
        return "websockets"
    if wanted == "picows":
        if not fast_transport_installed():
            raise RuntimeError(f"{TRANSPORT_VARIABLE}=picows, but picows is missing: pip install 'xfeeds[fast]'")
        if not running_on_asyncio():
            raise RuntimeError(f"{TRANSPORT_VARIABLE}=picows, but picows runs on asyncio only")
        return "picows"
    if wanted != "auto":
        raise ValueError(f"{TRANSPORT_VARIABLE}={wanted!r}: expected auto, websockets or picows")
    return "picows" if fast_transport_installed() and running_on_asyncio() else "websockets"


def transport_connector(transport: Transport, **options: Unpack[ConnectorOptions]) -> Connector:
    """The connector of ``transport`` with ``options``."""
    if transport == "picows":
        from sdk.picows_transport import PicowsConnector  # noqa: PLC0415 - the optional extra, imported once chosen

        return PicowsConnector(**options)
    return WebSocketConnector(**options)


class DefaultConnector:
    """The connector a feed or an account uses unless given one: the fast transport (picows) on
    asyncio where ``xfeeds[fast]`` is installed, websockets otherwise and on trio.

    The choice is made at each connection, on the loop that opens it (a feed may be built before
    any loop runs). ``XFEEDS_TRANSPORT=websockets`` keeps websockets everywhere; passing
    ``connector=WebSocketConnector(...)`` does the same for one feed.
    """

    def __init__(self, **options: Unpack[ConnectorOptions]) -> None:
        self.options = options
        self._connectors: dict[Transport, Connector] = {}

    async def connect(self, url: str) -> Connection:
        transport = chosen_transport()
        connector = self._connectors.get(transport)
        if connector is None:
            connector = self._connectors[transport] = transport_connector(transport, **self.options)
        return await connector.connect(url)
