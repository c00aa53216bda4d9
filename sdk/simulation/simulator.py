"""The base of every exchange simulator: a WebSocket server on loopback over a synthetic market.

A simulator owns the market and the listening socket; each client connection gets a ``Session``
(``sdk.simulation.session``) that speaks the exchange's protocol without any I/O. Subclasses
supply the instruments and the session; everything else (serving, the market clock, heartbeats
when idle, and every fault switch) lives here once, so each switch behaves the same on every
exchange.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import h11
from anyio.abc import SocketAttribute
from websockets.http11 import Request
from websockets.server import ServerProtocol

from sdk.simulation.http import HttpRequest, HttpResponse, Upgrade, serve_http
from sdk.simulation.market import Instrument, MarketStep, SyntheticMarket
from sdk.simulation.session import Session
from sdk.simulation.venue import TradingVenue
from sdk.transport import (
    DEFAULT_MAX_MESSAGE,
    ConnectionClosed,
    HandshakeFailed,
    WebSocket,
    open_websocket,
    read_upgrade,
    send_pending,
)

logger = logging.getLogger("xfeeds.simulator")
"""Each connection, what its client sends (subscriptions) and its end, at INFO (``xfeeds simulate`` shows it)."""

_GONE = (ConnectionClosed, anyio.BrokenResourceError, anyio.ClosedResourceError)
"""What a send or receive raises once the client has gone."""


async def accept(
    stream: anyio.abc.ByteStream, *, max_message: int = DEFAULT_MAX_MESSAGE, received: bytes = b""
) -> WebSocket:
    """Complete the server side of the upgrade on a freshly accepted stream; ``received`` is what
    was already read from it (the whole upgrade request, when HTTP parsing came first)."""
    protocol = ServerProtocol(max_size=max_message)
    protocol.receive_data(received)
    events: list[object] = list(protocol.events_received())
    requests = [index for index, event in enumerate(events) if isinstance(event, Request)]
    request: object
    if requests:
        request, leftover = events[requests[0]], events[requests[0] + 1 :]
    else:
        request, leftover = await read_upgrade(protocol, stream, Request)
    assert isinstance(request, Request)
    response = protocol.accept(request)
    protocol.send_response(response)
    await send_pending(protocol, stream)
    if response.status_code != 101:
        await stream.aclose()
        raise HandshakeFailed(f"refused upgrade: {response.status_code} {response.reason_phrase}")
    return open_websocket(protocol, stream, leftover)


def _peer(stream: anyio.abc.SocketStream) -> str:
    """``host:port`` of the client, or "a gone client" once its socket has closed."""
    address = stream.extra(SocketAttribute.remote_address, None)
    if address is None:
        return "a gone client"
    return address if isinstance(address, str) else f"{address[0]}:{address[1]}"


class _Connection:
    """One served client: its WebSocket and session, and when it was last sent anything."""

    def __init__(self, websocket: WebSocket, session: Session, number: int) -> None:
        self.number = number
        """The how-manyth connection this simulator accepted, as its log names it."""
        self.websocket = websocket
        self.session = session
        self.last_sent = time.monotonic()
        self.turn = anyio.Lock()
        """Held while answering a message or sending a market step, so their frames never interleave."""

    async def send(self, frame: str) -> None:
        await self.websocket.send_text(frame)
        self.last_sent = time.monotonic()


class Simulator(ABC):
    """A local exchange on ``ws://127.0.0.1:PORT``; use as an async context manager.

    ``tick_interval`` is the time between market steps; ``port=0`` picks a free port.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        tick_interval: float = 0.05,
        heartbeat_interval: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        self.heartbeat_interval = heartbeat_interval
        self.market = SyntheticMarket(self.instruments(), seed=seed)
        self.connections_accepted = 0
        self.refuse_connections = False
        """While true, new connections are closed before the WebSocket handshake."""
        self.paused = False
        """While true, the market stands still (nothing trades, no book changes)."""
        self.withhold_acks = False
        """While true, subscriptions are served but never acknowledged."""
        self.ack_delay = 0.0
        """Seconds each acknowledgement waits before it is sent."""
        self.read_delay = 0.0
        """Seconds the server waits before each read of client messages: a slow server."""
        self.reject_subscriptions: str | None = None
        """When set, every subscription is refused with this text (worded as the venue words refusals)."""
        self._silent = False
        self._corrupt_checksums: set[str] = set()
        self._connections: set[_Connection] = set()
        self._streams: set[anyio.abc.SocketStream] = set()
        self._exit_stack: contextlib.AsyncExitStack | None = None

    @property
    def silent(self) -> bool:
        """While true, no connection sends anything (not even pongs), yet all stay open: a stalled feed."""
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._silent = value
        for connection in self._connections:
            connection.websocket.muted = value

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def banner(self) -> list[str]:
        """Lines that ``xfeeds simulate`` prints under the URL (test credentials, say)."""
        return []

    @abstractmethod
    def instruments(self) -> list[Instrument]:
        """The instruments this exchange lists."""

    @abstractmethod
    def new_session(self) -> Session:
        """The protocol of a new connection, over this simulator's market."""

    def answer_http(self, request: HttpRequest) -> HttpResponse:
        """The answer to a plain HTTP request on the WebSocket port; venues with REST override it."""
        return HttpResponse(426, b"Upgrade Required: this port speaks WebSocket", "text/plain")

    def on_tick(self, steps: list[MarketStep], now_ns: int) -> None:
        """Called once per tick, paused or not, before the sessions see ``steps`` (empty while paused):
        where a venue's own clock-driven state (resting orders, timers) moves on."""
        return None

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
            stack.push_async_callback(listener.aclose)
            self.port = listener.extra(SocketAttribute.local_port)
            group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(group.cancel_scope.cancel)
            group.start_soon(listener.serve, self._serve_connection)
            group.start_soon(self._run_market)
            self._exit_stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving; an exception from the ``async with`` body propagates as itself."""
        assert self._exit_stack is not None
        stack, self._exit_stack = self._exit_stack, None
        await stack.aclose()  # not handed the body's exception, so no task group wraps it

    # -- fault switches acting on every connection ------------------------------------------

    async def drop_connections(self) -> int:
        """Cut every client connection, even one mid-handshake, without a closing handshake.

        Returns how many were cut.
        """
        streams = list(self._streams)
        for stream in streams:
            await stream.aclose()
        return len(streams)

    async def drop_connection(self, number: int) -> bool:
        """Cut the ``number``-th connection accepted (as the log numbers them) without a closing
        handshake, leaving the others up; False if it is not open."""
        for connection in list(self._connections):
            if connection.number == number:
                await connection.websocket.abort()
                return True
        return False

    async def close_connections(self, code: int = 1001, reason: str = "going away") -> int:
        """Close every connection with a closing handshake and ``code``; returns how many."""
        connections = list(self._connections)
        for connection in connections:
            await connection.websocket.close(code, reason)
        return len(connections)

    async def announce(self, state: str) -> int:
        """Announce a trading state (``maintenance``, ``online``...) where the protocol can."""
        sent = 0
        for connection in list(self._connections):
            frame = connection.session.status(state)
            if frame is not None:
                async with connection.turn:
                    await connection.send(frame)
                sent += 1
        return sent

    async def inject(self, frame: str) -> int:
        """Send ``frame`` as it is to every connection: malformed, truncated, unknown, oversized."""
        connections = list(self._connections)
        for connection in connections:
            async with connection.turn:
                await connection.send(frame)
        return len(connections)

    def corrupt_next_checksum(self, symbol: str) -> None:
        """Make the next checksummed book message sent for ``symbol`` carry a wrong checksum (once)."""
        self._corrupt_checksums.add(symbol)

    # -- serving ----------------------------------------------------------------------------

    async def _serve_connection(self, stream: anyio.abc.SocketStream) -> None:
        if self.refuse_connections:
            await stream.aclose()
            return
        self._streams.add(stream)
        try:
            await self._serve_websocket(stream)
        finally:
            self._streams.discard(stream)

    async def _serve_websocket(self, stream: anyio.abc.SocketStream) -> None:
        try:
            await serve_http(stream, self.answer_http)
        except Upgrade as upgrade:
            received = upgrade.received
        except (h11.ProtocolError, *_GONE):
            return
        else:
            return
        try:
            websocket = await accept(stream, received=received)
        except (HandshakeFailed, *_GONE):
            return
        self.connections_accepted += 1
        number = self.connections_accepted
        logger.info("connection %d from %s", number, _peer(stream))
        websocket.muted = self._silent
        connection = _Connection(websocket, self.new_session(), number)
        self._connections.add(connection)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._heartbeats, connection)
                await self._converse(connection)
                group.cancel_scope.cancel()
        finally:
            self._connections.discard(connection)
            await websocket.abort()
            logger.info("connection %d closed", number)

    async def _converse(self, connection: _Connection) -> None:
        """Greet the client, then answer its messages until it goes away."""
        with contextlib.suppress(*_GONE):
            async with connection.turn:
                await self._send(connection, connection.session.on_open(time.time_ns()))
            while True:
                if self.read_delay:
                    await anyio.sleep(self.read_delay)
                for message in await connection.websocket.receive_batch():
                    async with connection.turn:
                        if not await self._answer(connection, message):
                            return

    async def _answer(self, connection: _Connection, message: bytes) -> bool:
        """Send the session's reply to ``message``, refused, withheld or delayed as the switches say;
        False when the reply is to cut the connection instead."""
        now_ns = time.time_ns()
        if logger.isEnabledFor(logging.INFO):
            logger.info("connection %d sent %s", connection.number, self._shown(message))
        if self.reject_subscriptions is not None:
            refusal = connection.session.refuse(message, self.reject_subscriptions, now_ns)
            if refusal is not None:
                await self._send(connection, refusal)
                return True
        reply = connection.session.on_message(message, now_ns)
        if reply.hang_up:
            return False
        for outgoing in reply.outgoing:
            if outgoing.ack and self.ack_delay:
                await anyio.sleep(self.ack_delay)
            if not (outgoing.ack and self.withhold_acks):
                await self._send(connection, [outgoing.text])
        if reply.close_after:
            await connection.websocket.close()
            return False
        return True

    def _shown(self, message: bytes) -> str:
        """A client's message as logged: the test account's key and secret and every token issued
        blanked out, since a log is shown (and secrets never are, not even the simulator's)."""
        text = message.decode(errors="replace")
        if isinstance(self, TradingVenue):
            credentials = self.credentials
            for secret in (credentials.key, credentials.secret.reveal(), *self.issued_secrets()):
                text = text.replace(secret, "<hidden>")
        return text[:300]

    async def _send(self, connection: _Connection, frames: Iterable[str]) -> None:
        for frame in frames:
            await connection.send(self._corrupted(connection.session, frame) if self._corrupt_checksums else frame)

    def _corrupted(self, session: Session, frame: str) -> str:
        """``frame``, with a wrong checksum if it is the next book message of a symbol asked for."""
        for symbol in list(self._corrupt_checksums):
            corrupted = session.corrupt_checksum(frame, symbol)
            if corrupted is not None:
                self._corrupt_checksums.discard(symbol)
                return corrupted
        return frame

    async def _heartbeats(self, connection: _Connection) -> None:
        with contextlib.suppress(*_GONE):
            while True:
                await anyio.sleep(self.heartbeat_interval / 4)
                if time.monotonic() - connection.last_sent >= self.heartbeat_interval:
                    frame = connection.session.heartbeat(time.time_ns())
                    if frame is not None:
                        async with connection.turn:
                            await connection.send(frame)

    async def _run_market(self) -> None:
        while True:
            await anyio.sleep(self.tick_interval)
            now_ns = time.time_ns()
            steps = [] if self.paused else self.market.step(now_ns)
            self.on_tick(steps, now_ns)
            for connection in list(self._connections):
                try:
                    async with connection.turn:
                        await self._send(connection, connection.session.on_market(steps))
                        reason = connection.session.closing(now_ns)
                        if reason is not None:
                            await connection.websocket.close(1000, reason)
                except _GONE:
                    self._connections.discard(connection)
