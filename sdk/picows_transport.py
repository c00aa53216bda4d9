"""WebSocket connections through picows, a compiled client for asyncio (the ``xfeeds[fast]`` extra).

picows parses frames in C and hands each one to a callback as the bytes arrive, about ten times
the frame rate of websockets' pure-Python protocol; it runs on asyncio only. A connection here
keeps the promises of ``sdk.transport``'s: whole messages in batches (fragments reassembled),
a message over ``max_message`` closes with 1009, certificates verified for ``wss://``, plain
``ws://`` refused off this machine, close codes and reasons reported as ``ConnectionClosed``.

picows reads whenever bytes arrive and never blocks a write (asyncio buffers it), so both kinds
of back-pressure are made here. Reading pauses while more than ``READ_AHEAD`` bytes of messages
wait for the feed (a consumer that falls behind holds the venue back through TCP, as with
websockets, instead of piling frames up in memory), and while the write buffer is over its
high-water mark (a peer that stops reading no longer gets its pings answered). A write waits for
that buffer to drain; if it has not drained within ``write_timeout`` seconds the connection is
dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl

import anyio
from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSListener,
    WSMsgType,
    WSProtocolError,
    WSTransport,
    ws_connect,
)
from websockets.uri import parse_uri

from sdk.transport import (
    ConnectionClosed,
    ConnectorSettings,
    HandshakeFailed,
    InsecureURL,
    is_loopback,
)

_MESSAGE_TYPES = (WSMsgType.TEXT, WSMsgType.BINARY)

READ_AHEAD = 1024 * 1024
"""Bytes of received messages not yet taken by the feed above which reading pauses."""

BATCH = 512
"""Messages handed to the feed at most at once. One socket read can bring thousands while the feed
was busy; decoding them in batches of about a 64 KiB read's worth (what the websockets transport
hands over) keeps the feed's working set small and its consumer fed sooner."""


TAKEN_KEPT = 8 * BATCH
"""Messages the feed has taken that the received list may still hold. A feed that stays behind
never empties the list (reading resumes as soon as it is under ``READ_AHEAD`` again), so what it
took is let go once there is this much of it and it is most of the list."""


class _WithoutFrames(logging.LoggerAdapter[logging.Logger]):
    """picows' logger without its per-frame debug lines: a private connection's frames carry its token."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


class PicowsWebSocket(WSListener):
    """One open client connection: picows calls the ``on_ws_*`` methods, the feed the others."""

    def __init__(self, max_message: int, write_timeout: float) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._max_message = max_message
        self._write_timeout = write_timeout
        self._transport: WSTransport | None = None
        self._messages: list[bytes] = []
        """Received messages; the first ``_taken`` are the feed's already."""
        self._taken = 0
        self._counted = 0
        """Messages whose size is in ``_waiting_bytes`` (counted once per socket read, not per frame)."""
        self._waiting_bytes = 0
        self._fragments: list[bytes] = []
        self._fragments_size = 0
        self._arrival: asyncio.Future[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._stall: asyncio.TimerHandle | None = None
        self._reading = True
        self._closed: ConnectionClosed | None = None
        """Set when this side closed or dropped the connection."""
        self._ended: ConnectionClosed | None = None
        """Set once the socket is gone: why, as the close handshake (or its absence) tells."""
        self._settling: asyncio.Task[None] | None = None
        """The task reading picows' record of the ending, referenced so it is not collected mid-run."""

    # -- the Connection protocol -------------------------------------------------------------

    async def receive_batch(self) -> list[bytes]:
        """The messages received so far, ``BATCH`` at most (at least one); ``ConnectionClosed`` once
        they are all read."""
        while self._taken == len(self._messages):
            end = self._closed or self._ended
            if end is not None:
                raise end
            self._arrival = self._loop.create_future()
            await self._arrival
        self._count()
        messages, start = self._messages, self._taken
        if start + BATCH >= len(messages):  # the rest: the list starts afresh
            batch = messages[start:] if start else messages
            self._messages = []
            self._taken = self._counted = self._waiting_bytes = 0
        else:  # a position, not a shorter copy of the rest: a big read is not copied once per batch
            taken = start + BATCH
            batch = messages[start:taken]
            self._taken = taken
            self._waiting_bytes -= sum(map(len, batch))
            if taken >= TAKEN_KEPT and 2 * taken >= len(messages):  # a feed that stays behind: let go of
                del messages[:taken]  # what it took (copying at most as many as it took since the last time)
                self._taken = 0
                self._counted -= taken
        self._read_or_pause()
        return batch

    async def send_text(self, text: str) -> None:
        self._open_transport().send(WSMsgType.TEXT, text.encode())
        await self._drained()

    async def ping(self) -> None:
        self._open_transport().send_ping(b"")
        await self._drained()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and release the socket; without the frame when the peer is not reading."""
        transport = self._transport
        if self._closed is not None or self._ended is not None or transport is None:
            return
        self._closed = ConnectionClosed(code, reason)
        if self._writable.is_set() and not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
            transport.disconnect(graceful=True)
        else:
            transport.disconnect(graceful=False)
        self._wake()

    async def abort(self, reason: str = "aborted") -> None:
        """Drop the socket without a closing handshake (the peer sees code 1006)."""
        self._drop(reason)

    # -- picows' callbacks -------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind in _MESSAGE_TYPES and frame.fin and not self._fragments:  # nearly every frame: kept short
            self._messages.append(frame.get_payload_as_bytes())
            if frame.last_in_buffer:  # the socket read is parsed: count it, pause if need be, wake the feed
                self._arrived()
            return
        if kind in _MESSAGE_TYPES or kind == WSMsgType.CONTINUATION:
            self._fragment(frame)
        elif kind == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif kind == WSMsgType.CLOSE:  # answer the peer's close; its code is read at disconnect
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect(graceful=True)
        self._arrived()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._ended = _close_reason(transport)
        self._resume_writing()
        self._wake()
        self._settling = self._loop.create_task(_settled(transport))

    def pause_writing(self) -> None:
        """The peer is not taking what is written: stop reading, and drop it if that lasts."""
        self._writable.clear()
        self._read_or_pause()
        if math.isfinite(self._write_timeout):
            message = f"a write did not complete within {self._write_timeout:g} s: the peer is not reading"
            self._stall = self._loop.call_later(self._write_timeout, self._drop, message)

    def resume_writing(self) -> None:
        self._resume_writing()
        self._read_or_pause()

    # -- inside ------------------------------------------------------------------------------

    def _fragment(self, frame: WSFrame) -> None:
        """Keep one fragment of a message; the last one completes it (1009 past ``max_message``)."""
        self._fragments.append(frame.get_payload_as_bytes())
        self._fragments_size += frame.payload_size
        if self._fragments_size > self._max_message:
            raise WSProtocolError(WSCloseCode.MESSAGE_TOO_BIG, f"message over {self._max_message} bytes")
        if frame.fin:
            self._messages.append(b"".join(self._fragments))
            self._fragments.clear()
            self._fragments_size = 0

    def _count(self) -> None:
        """Add the messages received since the last count to ``_waiting_bytes``."""
        messages, counted = self._messages, self._counted
        if counted < len(messages):
            self._waiting_bytes += sum(map(len, messages[counted:]))
            self._counted = len(messages)

    def _arrived(self) -> None:
        """What a parsed socket read needs: its bytes counted, reading paused past ``READ_AHEAD``,
        the feed woken."""
        self._count()
        if self._waiting_bytes > READ_AHEAD and self._reading:
            self._read_or_pause()
        self._wake()

    def _read_or_pause(self) -> None:
        """Read while the feed keeps up and the peer takes what is written; pause otherwise."""
        transport = self._transport
        if transport is None or transport.is_disconnected:
            return
        reading = self._writable.is_set() and self._waiting_bytes <= READ_AHEAD
        if reading != self._reading:
            self._reading = reading
            if reading:
                transport.underlying_transport.resume_reading()
            else:
                transport.underlying_transport.pause_reading()

    def _wake(self) -> None:
        arrival = self._arrival
        if arrival is not None:
            self._arrival = None
            if not arrival.done():
                arrival.set_result(None)

    def _resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._writable.set()

    def _drop(self, reason: str) -> None:
        self._closed = ConnectionClosed(1006, reason)
        if self._transport is not None:
            self._transport.disconnect(graceful=False)
        self._resume_writing()
        self._wake()

    def _open_transport(self) -> WSTransport:
        """The transport, if a message may still be sent on it; else why not, as ``ConnectionClosed``."""
        end = self._closed or self._ended
        if end is not None:
            raise end
        transport = self._transport
        assert transport is not None, "picows reports the connection before ws_connect returns it"
        if transport.is_close_frame_sent:  # the peer's close was answered: the socket is going
            raise _close_reason(transport)
        return transport

    async def _drained(self) -> None:
        """Wait while the write buffer is over its high-water mark (the stall timer bounds the wait)."""
        if not self._writable.is_set():
            await self._writable.wait()
            end = self._closed or self._ended
            if end is not None:
                raise end


async def _settled(transport: WSTransport) -> None:
    """Take picows' own record of why a connection ended, once it has it. ``_ended`` already tells
    the feed; unread, a protocol error kept there (a message over the size limit) would be logged
    by asyncio as an exception never retrieved."""
    with contextlib.suppress(Exception):
        await transport.wait_disconnected()


def _close_reason(transport: WSTransport) -> ConnectionClosed:
    """Why a connection ended: the peer's close frame, else ours (1009 for a message over the size
    limit, 1002 for a protocol error), else a dropped socket (1006)."""
    handshake = transport.close_handshake
    close = None if handshake is None else handshake.recv or handshake.sent
    return (
        ConnectionClosed(1006, "connection lost") if close is None else ConnectionClosed(close.code.value, close.reason)
    )


class PicowsConnector(ConnectorSettings):
    """Opens ``PicowsWebSocket`` connections, asyncio only; its options are ``ConnectorSettings``."""

    async def connect(self, url: str) -> PicowsWebSocket:
        uri = parse_uri(url)
        if not uri.secure and not self.allow_plaintext and not is_loopback(uri.host):
            raise InsecureURL(url)
        logger = logging.getLogger("picows.client")
        with anyio.fail_after(self.timeout):
            try:
                _, listener = await ws_connect(
                    lambda: PicowsWebSocket(self.max_message, self.write_timeout),
                    url,
                    ssl_context=ssl.create_default_context() if uri.secure else None,
                    websocket_handshake_timeout=None,  # the whole connect is bounded by the timeout
                    logger_name=logger if self.log_frames else _WithoutFrames(logger, {}),
                    enable_auto_pong=False,  # answered in on_ws_frame: a peer that stops reading stops the reader
                    max_frame_size=self.max_message,
                    max_redirects=0,
                )
            except WSError as exc:
                raise HandshakeFailed(f"{url}: {exc}") from exc
        if listener is None:  # picows' word for a socket closed before the upgrade completed
            raise HandshakeFailed("connection closed during the WebSocket handshake")
        assert isinstance(listener, PicowsWebSocket)
        return listener
