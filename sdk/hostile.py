"""Misbehaving venues on 127.0.0.1, for tests that check a feed survives them.

The project's simulators are honest venues with fault switches; a ``HostileVenue`` is a bare
WebSocket server whose every connection runs a script the test writes: send any frame (malformed,
huge, binary, out of order), read or stop reading, flood pings, close with any code, or write raw
bytes, down to frames coalesced with the upgrade response. Any adapter's tests can use it.

    async def script(peer: VenuePeer) -> None:
        await peer.receive_json()  # the subscribe request
        await peer.send('{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","price":"NaN"}]}')
        await peer.hold()

    async with HostileVenue(script) as venue:
        async with sdk.connect("kraken", venue.url) as feed: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.abc
import msgspec
from anyio.abc import SocketAttribute
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

_READ_SIZE = 65_536

Script = Callable[["VenuePeer"], Awaitable[None]]


class VenuePeer:
    """The venue's side of one client connection, driven by a test's script."""

    def __init__(self, number: int, protocol: ServerProtocol, stream: anyio.abc.ByteStream) -> None:
        self.number = number
        """1 for the first connection to the venue, 2 for the next..."""
        self._protocol = protocol
        self._stream = stream
        self._messages: list[bytes] = []
        self.pings = 0
        """Pings the client sent (each answered with a pong while the peer reads)."""

    async def send(self, *frames: str | bytes) -> None:
        """Send text frames (``bytes`` go as binary frames), each as its own WebSocket message."""
        for frame in frames:
            if isinstance(frame, str):
                self._protocol.send_text(frame.encode())
            else:
                self._protocol.send_binary(frame)
        await self._flush()

    async def send_raw(self, data: bytes) -> None:
        """Write bytes straight onto the socket, WebSocket framing or not."""
        await self._stream.send(data)

    async def ping(self, payload: bytes = b"") -> None:
        await self._stream.send(_frame_bytes(Frame(Opcode.PING, payload)))

    async def receive(self) -> str:
        """The client's next message as text; ``anyio.EndOfStream`` once the client has gone."""
        while not self._messages:
            data = await self._stream.receive(_READ_SIZE)
            self._protocol.receive_data(data)
            for event in self._protocol.events_received():
                if isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    self._messages.append(bytes(event.data))
                elif isinstance(event, Frame) and event.opcode is Opcode.PING:
                    self.pings += 1
            await self._flush()  # pongs, and the reply to a close
            if self._protocol.close_rcvd is not None:
                raise anyio.EndOfStream
        return self._messages.pop(0).decode("utf-8", "replace")

    async def receive_json(self) -> Any:
        """The client's next message, decoded as JSON."""
        return msgspec.json.decode(await self.receive())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a closing handshake, then drop the socket."""
        self._protocol.send_close(code, reason)
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await self._flush()
        await self._stream.aclose()

    async def drop(self) -> None:
        """Drop the socket without a closing handshake."""
        await self._stream.aclose()

    @property
    def close_received(self) -> Close | None:
        """The client's close frame (its code and reason), once it has come."""
        return self._protocol.close_rcvd

    async def hold(self) -> None:
        """Keep the connection open, reading (and answering pings), until the client leaves."""
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            while True:
                await self.receive()

    async def _flush(self) -> None:
        for chunk in self._protocol.data_to_send():
            if chunk:
                await self._stream.send(chunk)


class HostileVenue:
    """A WebSocket server on 127.0.0.1 running ``script`` for each connection; an async context manager.

    ``upgrade_with`` frames (and a close frame with ``close_with_upgrade``'s code) are written in the
    same socket write as the 101 upgrade response, as some proxies and venues do. ``receive_buffer``
    shrinks the kernel's receive buffer of each connection (bytes), so that a script which stops
    reading stalls the client's writes within kilobytes rather than after megabytes.
    """

    def __init__(
        self,
        script: Script,
        *,
        upgrade_with: Sequence[str] = (),
        close_with_upgrade: int | None = None,
        receive_buffer: int | None = None,
    ) -> None:
        self._script = script
        self._upgrade_with = upgrade_with
        self._close_with_upgrade = close_with_upgrade
        self._receive_buffer = receive_buffer
        self.port = 0
        self.connections = 0
        """How many clients have connected so far."""
        self.open_connections = 0
        """How many client sockets the venue holds open now: what a leak of connections shows in."""
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
            stack.push_async_callback(listener.aclose)
            self.port = listener.extra(SocketAttribute.local_port)
            if self._receive_buffer is not None:  # accepted sockets inherit it, before any window is agreed
                listener.extra(SocketAttribute.raw_socket).setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer
                )
            group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(group.cancel_scope.cancel)
            group.start_soon(listener.serve, self._serve)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving; an exception from the ``async with`` body propagates as itself."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _serve(self, stream: anyio.abc.SocketStream) -> None:
        self.connections += 1
        self.open_connections += 1
        number = self.connections
        try:
            async with stream:
                with contextlib.suppress(
                    anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError
                ):
                    peer = await self._upgrade(stream, number)
                    if peer is not None:
                        await self._script(peer)
        finally:
            self.open_connections -= 1

    async def _upgrade(self, stream: anyio.abc.SocketStream, number: int) -> VenuePeer | None:
        protocol = ServerProtocol()
        while True:
            protocol.receive_data(await stream.receive(_READ_SIZE))
            requests = [event for event in protocol.events_received() if isinstance(event, Request)]
            if requests:
                break
        protocol.send_response(protocol.accept(requests[0]))
        for frame in self._upgrade_with:
            protocol.send_text(frame.encode())
        if self._close_with_upgrade is not None:
            protocol.send_close(self._close_with_upgrade, "closed with the upgrade")
        await stream.send(b"".join(protocol.data_to_send()))  # one write: the upgrade and what follows it
        _stop_reading(stream)
        if self._close_with_upgrade is not None:  # then keep the socket open, as a half-dead venue does
            while True:
                await stream.receive(_READ_SIZE)
        return VenuePeer(number, protocol, stream)


def _stop_reading(stream: anyio.abc.SocketStream) -> None:
    """Read nothing more until the script asks: a script that never reads must fill the client's window.

    anyio on asyncio leaves a socket reading when its first bytes arrived before the first receive
    (a client that writes its upgrade request at once), until a later receive waits; trio reads only
    when asked. anyio has no public switch for this, hence the transport's own.
    """
    transport = getattr(stream, "_transport", None)
    if isinstance(transport, asyncio.Transport):
        transport.pause_reading()


def _frame_bytes(frame: Frame) -> bytes:
    """A server frame (unmasked) as bytes, written outside the protocol's own bookkeeping."""
    return frame.serialize(mask=False, extensions=[])
