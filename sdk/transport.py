"""WebSocket connections on anyio streams, driven by websockets' sans-I/O protocol.

Running websockets' protocol state machine over anyio byte streams (rather than its asyncio
client) is what lets one feed core run on both asyncio and trio. ``receive_batch`` returns every
message completed by one network read, so the feed hands events on in batches, not one by one.

A peer that stops reading must not stall the connection's user: every write is bounded in time,
the reader writes its pongs only when no other write is under way (the writer under way sends
them too), and a connection whose write did not complete is dropped, not closed politely.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import anyio.abc
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.uri import parse_uri

DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024
DEFAULT_WRITE_TIMEOUT = 10.0


@dataclass(kw_only=True, eq=False)
class ConnectorSettings:
    """What every WebSocket connector takes, whichever transport opens the connections.

    Plain ``ws://`` is refused except to this machine unless ``allow_plaintext`` is set; a message
    larger than ``max_message`` bytes closes the connection with code 1009. ``timeout`` bounds the
    connection and handshake; ``write_timeout`` bounds every write after it, so a venue that stops
    reading costs the connection, never a stuck feed. ``log_frames=False`` keeps frames out of the
    debug log (an account's connector: its frames carry the session token).
    """

    max_message: int = DEFAULT_MAX_MESSAGE
    allow_plaintext: bool = False
    timeout: float = 10.0
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    log_frames: bool = True


_WRITE_ERRORS = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)
_READ_SIZE = 65_536
_MESSAGE_OPCODES = frozenset((Opcode.TEXT, Opcode.BINARY, Opcode.CONT))
"""Frames that carry (part of) a message; a constant because reading an enum member costs a lookup
through the enum's class, and this is asked of every frame."""


class ConnectionClosed(Exception):
    """The WebSocket is closed; ``code`` is the close code (1006 when the socket just dropped)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"connection closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


class HandshakeFailed(ConnectionError):
    """The server did not accept the WebSocket upgrade."""


class InsecureURL(ValueError):
    """A plain ``ws://`` URL to another machine, which would send market data in the clear."""

    def __init__(self, url: str, remedy: str = "use wss://, or pass allow_plaintext=True") -> None:
        super().__init__(f"refusing unencrypted {url}: {remedy}")
        self.url = url


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine, where plain text never crosses a network."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


class WebSocket:
    """One open WebSocket connection, client or server side.

    A write that cannot complete within ``write_timeout`` seconds drops the connection: the peer
    has stopped reading.
    """

    def __init__(self, protocol: Protocol, stream: anyio.abc.ByteStream, write_timeout: float = math.inf) -> None:
        self._protocol = protocol
        self._stream = stream
        self._write_timeout = write_timeout
        self._send_lock = anyio.Lock()
        self._write_unfinished = False
        """From the start of a write until it completes; still true once a write was abandoned."""
        self._fragments: list[bytes] = []
        self._backlog: list[bytes] = []
        self._closed: ConnectionClosed | None = None
        self.last_received = time.monotonic()
        """When bytes last arrived (control frames included): the connection's sign of life."""
        self.muted = False
        """While true, nothing is written, not even pongs: how a simulator plays a stalled peer."""

    async def send_text(self, text: str) -> None:
        """Send one text message."""
        self._check_open()
        self._protocol.send_text(text.encode())
        await self._flush()

    async def ping(self, payload: bytes = b"") -> None:
        """Send a WebSocket ping frame (the peer's pong is handled by the protocol)."""
        self._check_open()
        self._protocol.send_ping(payload)
        await self._flush()

    async def receive_batch(self) -> list[bytes]:
        """Every message completed by the next network read(s); at least one.

        Text and binary messages both come back as bytes. Raises ``ConnectionClosed`` once the
        connection is over and every message received before that has been returned.
        """
        if self._backlog:
            messages, self._backlog = self._backlog, []
            return messages
        while True:
            if self._closed is None and self._closing():  # also a close that came with the upgrade
                with contextlib.suppress(ConnectionClosed):  # a peer that closed may not read the reply
                    await self._send_replies()
                self._closed = self._close_reason()
                await self._stream.aclose()
            if self._closed is not None:
                raise self._closed
            try:
                data = await self._stream.receive(_READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self._protocol.receive_eof()
            else:
                self.last_received = time.monotonic()
                self._protocol.receive_data(data)
            messages = self._collect(self._protocol.events_received())
            with contextlib.suppress(ConnectionClosed):  # raised by the next call, after these messages
                await self._send_replies()
            if messages:
                return messages

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and release the socket.

        Without the handshake after a write was abandoned (its task cancelled): the stream may
        have stopped mid-frame, and the peer may not be reading at all.
        """
        if self._closed is None and self._protocol.state is State.OPEN and not self._write_abandoned():
            self._protocol.send_close(code, reason)
            with contextlib.suppress(ConnectionClosed):
                await self._flush()
        self._closed = self._closed or ConnectionClosed(code, reason)
        await self._stream.aclose()

    async def abort(self, reason: str = "aborted") -> None:
        """Drop the socket without a closing handshake (the peer sees code 1006)."""
        self._closed = ConnectionClosed(1006, reason)
        await self._stream.aclose()

    def _closing(self) -> bool:
        return self._protocol.state is State.CLOSED or self._protocol.close_expected()

    def _writing(self) -> bool:
        return self._send_lock.locked() or self._write_unfinished

    def _write_abandoned(self) -> bool:
        return self._write_unfinished and not self._send_lock.locked()

    def _check_open(self) -> None:
        if self._closed is not None:
            raise self._closed
        if self._protocol.state is not State.OPEN:
            raise self._close_reason()

    def _collect(self, events: Sequence[object]) -> list[bytes]:
        """Whole messages from received frames, reassembling fragmented ones."""
        messages = []
        for event in events:
            if not isinstance(event, Frame):
                continue
            if event.opcode in _MESSAGE_OPCODES:
                if event.fin and not self._fragments:
                    messages.append(bytes(event.data))
                elif event.fin:
                    self._fragments.append(bytes(event.data))
                    messages.append(b"".join(self._fragments))
                    self._fragments.clear()
                else:
                    self._fragments.append(bytes(event.data))
        return messages

    def _close_reason(self) -> ConnectionClosed:
        """Why the connection ended: the peer's close frame, else ours (1009 for a message over the
        size limit, 1002 for a protocol error), else a dropped socket (1006)."""
        close = self._protocol.close_rcvd or self._protocol.close_sent
        if close is not None:
            return ConnectionClosed(close.code, close.reason)
        return ConnectionClosed(1006, "connection lost")

    async def _send_replies(self) -> None:
        """Send what reading queued (pongs, the reply to a close), unless a write is under way:
        that writer sends it too, and the reader must not queue behind a peer that stopped reading."""
        if not self._writing():
            await self._flush()

    async def _flush(self) -> None:
        """Send everything queued, including what is queued meanwhile; ``ConnectionClosed`` if the
        connection ended or the writes did not complete within ``write_timeout`` seconds."""
        async with self._send_lock:
            if self._closed is not None:
                raise self._closed
            self._write_unfinished = True
            try:
                with anyio.move_on_after(self._write_timeout) as stalled:
                    while chunks := self._protocol.data_to_send():
                        if not self.muted:  # muted: discarded
                            await _send_chunks(chunks, self._stream)
            except _WRITE_ERRORS:
                self._closed = self._closed or ConnectionClosed(1006, "connection lost")
                raise self._closed from None
            if stalled.cancelled_caught:
                await self.abort(f"a write did not complete within {self._write_timeout:g} s: the peer is not reading")
                assert self._closed is not None
                raise self._closed
            self._write_unfinished = False


async def connect(
    url: str,
    *,
    max_message: int = DEFAULT_MAX_MESSAGE,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 10.0,
    allow_plaintext: bool = False,
    write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    log_frames: bool = True,
) -> WebSocket:
    """Open a client WebSocket to ``url`` (``wss://`` verifies certificates by default).

    Unencrypted ``ws://`` is refused except to this machine (the simulators) unless
    ``allow_plaintext`` is passed. Raises ``TimeoutError`` if the connection and handshake take
    longer than ``timeout`` seconds. Once open, a write that cannot complete within
    ``write_timeout`` seconds drops the connection. ``log_frames=False`` keeps the frames out of
    websockets' debug log whatever the logging level: private frames carry a session token.
    """
    uri = parse_uri(url)
    if not uri.secure and not allow_plaintext and not is_loopback(uri.host):
        raise InsecureURL(url)
    with anyio.fail_after(timeout):
        return await _connect(url, max_message, ssl_context, write_timeout, log_frames)


async def _connect(
    url: str, max_message: int, ssl_context: ssl.SSLContext | None, write_timeout: float, log_frames: bool
) -> WebSocket:
    uri = parse_uri(url)
    stream: anyio.abc.ByteStream
    if uri.secure:
        stream = await anyio.connect_tcp(
            uri.host,
            uri.port,
            ssl_context=ssl_context or ssl.create_default_context(),
            tls_standard_compatible=False,
        )
    else:
        stream = await anyio.connect_tcp(uri.host, uri.port)
    protocol = ClientProtocol(uri, max_size=max_message)
    protocol.debug = protocol.debug and log_frames
    protocol.send_request(protocol.connect())
    try:
        _, leftover = await read_upgrade(protocol, stream, Response)
        if protocol.handshake_exc is not None:
            raise HandshakeFailed(f"{url}: {protocol.handshake_exc}") from protocol.handshake_exc
    except BaseException:
        await stream.aclose()
        raise
    return open_websocket(protocol, stream, leftover, write_timeout)


def open_websocket(
    protocol: Protocol, stream: anyio.abc.ByteStream, leftover: list[object], write_timeout: float = math.inf
) -> WebSocket:
    """The connection once either side's upgrade is done; ``leftover`` are events read past the upgrade."""
    websocket = WebSocket(protocol, stream, write_timeout)
    websocket._backlog = websocket._collect(leftover)
    return websocket


async def read_upgrade(
    protocol: Protocol,
    stream: anyio.abc.ByteStream,
    kind: type[Request] | type[Response],
) -> tuple[object, list[object]]:
    """Drive the HTTP upgrade until ``kind`` arrives; also returns the events after it."""
    while True:
        await send_pending(protocol, stream)
        try:
            data = await stream.receive(_READ_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError) as exc:
            raise HandshakeFailed("connection closed during the WebSocket handshake") from exc
        protocol.receive_data(data)
        events = protocol.events_received()
        for index, event in enumerate(events):
            if isinstance(event, kind):
                return event, list(events[index + 1 :])


async def send_pending(protocol: Protocol, stream: anyio.abc.ByteStream) -> None:
    """Write whatever ``protocol`` has queued to ``stream``."""
    await _send_chunks(protocol.data_to_send(), stream)


async def _send_chunks(chunks: list[bytes], stream: anyio.abc.ByteStream) -> None:
    """Write ``chunks`` to ``stream`` in order (an empty chunk is the protocol's end-of-stream mark)."""
    for chunk in chunks:
        if chunk:
            await stream.send(chunk)
