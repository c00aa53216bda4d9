"""The base of every exchange simulator: a WebSocket server on loopback over a synthetic market.

A simulator owns the market and the listening socket; each client connection gets a ``Session``
that speaks the exchange's protocol. Subclasses supply the instruments and the session class;
everything else (serving, the market clock, heartbeats when idle, fault switches) lives here once.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

from sdk.simulation.market import Instrument, MarketStep, SyntheticMarket
from sdk.transport import ConnectionClosed, HandshakeFailed, WebSocket, accept

_GONE = (ConnectionClosed, anyio.BrokenResourceError, anyio.ClosedResourceError)
"""What a send or receive raises once the client has gone."""


class Session(ABC):
    """One client connection, speaking one exchange's protocol."""

    def __init__(self, simulator: Simulator, websocket: WebSocket) -> None:
        self.simulator = simulator
        self.websocket = websocket
        self.last_sent = time.monotonic()
        self.turn = anyio.Lock()
        """Held while handling a message or a market step, so their frames never interleave."""

    @property
    def market(self) -> SyntheticMarket:
        return self.simulator.market

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)
        self.last_sent = time.monotonic()

    @abstractmethod
    async def on_open(self) -> None:
        """Greet a new connection (Kraken sends its system status, say)."""

    @abstractmethod
    async def on_message(self, data: bytes) -> None:
        """Handle one client message."""

    @abstractmethod
    async def on_market(self, steps: list[MarketStep]) -> None:
        """Send what the client's subscriptions make of one market step."""

    @abstractmethod
    def heartbeat(self) -> str | None:
        """The frame to send after an idle second, or None when none is due."""

    def status(self, state: str) -> str | None:
        """The frame announcing the exchange's trading state, or None if the protocol has none."""
        return None


class Simulator(ABC):
    """A local exchange on ``ws://127.0.0.1:PORT``; use as an async context manager.

    ``tick_interval`` is the time between market steps; ``port=0`` picks a free port.
    """

    exchange: str

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
        self.sessions: set[Session] = set()
        self._streams: set[anyio.abc.SocketStream] = set()
        self.connections_accepted = 0
        self.refuse_connections = False
        """While true, new connections are closed before the WebSocket handshake."""
        self.paused = False
        """While true, the market stands still (nothing trades, no book changes)."""
        self._silent = False
        self.withhold_acks = False
        """While true, subscriptions are served but never acknowledged."""
        self.ack_delay = 0.0
        """Seconds each acknowledgement waits before it is sent."""
        self.read_delay = 0.0
        """Seconds a session waits before each read of client messages: a slow server."""
        self.reject_subscriptions: str | None = None
        """When set, every subscription is refused with this text."""
        self._corrupt_checksums: set[str] = set()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None

    @property
    def silent(self) -> bool:
        """While true, no connection sends anything (not even pongs), yet all stay open: a stalled feed."""
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._silent = value
        for session in self.sessions:
            session.websocket.muted = value

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @abstractmethod
    def instruments(self) -> list[Instrument]:
        """The instruments this exchange lists."""

    @abstractmethod
    def new_session(self, websocket: WebSocket) -> Session:
        """The protocol handler for a new connection."""

    async def __aenter__(self) -> Self:
        listener = self._listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
        self.port = listener.extra(SocketAttribute.local_port)
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(listener.serve, self._serve_connection)
        self._task_group.start_soon(self._run_market)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        assert self._task_group is not None
        assert self._listener is not None
        self._task_group.cancel_scope.cancel()
        try:
            return await self._task_group.__aexit__(exc_type, exc, traceback)
        finally:
            await self._listener.aclose()

    async def serve_forever(self) -> None:
        """Run until cancelled (the ``xfeeds simulate`` command)."""
        async with self:
            await anyio.sleep_forever()

    async def drop_connections(self) -> int:
        """Cut every client connection, even one mid-handshake, without a closing handshake.

        Returns how many were cut.
        """
        streams = list(self._streams)
        for stream in streams:
            await stream.aclose()
        return len(streams)

    async def close_connections(self, code: int = 1001, reason: str = "going away") -> int:
        """Close every connection with a closing handshake and ``code``; returns how many."""
        sessions = list(self.sessions)
        for session in sessions:
            await session.websocket.close(code, reason)
        return len(sessions)

    async def announce(self, state: str) -> int:
        """Announce a trading state (``maintenance``, ``online``...) where the protocol can."""
        sent = 0
        for session in list(self.sessions):
            frame = session.status(state)
            if frame is not None:
                async with session.turn:
                    await session.send(frame)
                sent += 1
        return sent

    async def inject(self, frame: str) -> int:
        """Send ``frame`` as it is to every connection: malformed, truncated, unknown, oversized."""
        sessions = list(self.sessions)
        for session in sessions:
            async with session.turn:
                await session.send(frame)
        return len(sessions)

    def corrupt_next_checksum(self, symbol: str) -> None:
        """Make the next book update sent for ``symbol`` carry a wrong checksum (once)."""
        self._corrupt_checksums.add(symbol)

    def take_checksum_corruption(self, symbol: str) -> bool:
        """For sessions: whether to corrupt this update of ``symbol``; consumes the request."""
        if symbol in self._corrupt_checksums:
            self._corrupt_checksums.discard(symbol)
            return True
        return False

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
            websocket = await accept(stream)
        except (HandshakeFailed, *_GONE):
            return
        self.connections_accepted += 1
        websocket.muted = self._silent
        session = self.new_session(websocket)
        self.sessions.add(session)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._heartbeats, session)
                await self._converse(session)
                group.cancel_scope.cancel()
        finally:
            self.sessions.discard(session)
            await websocket.abort()

    @staticmethod
    async def _converse(session: Session) -> None:
        """Greet the client, then answer its messages until it goes away."""
        try:
            async with session.turn:
                await session.on_open()
            while True:
                if session.simulator.read_delay:
                    await anyio.sleep(session.simulator.read_delay)
                for message in await session.websocket.receive_batch():
                    async with session.turn:
                        await session.on_message(message)
        except _GONE:
            pass

    async def _heartbeats(self, session: Session) -> None:
        try:
            while True:
                await anyio.sleep(self.heartbeat_interval / 4)
                if time.monotonic() - session.last_sent >= self.heartbeat_interval:
                    frame = session.heartbeat()
                    if frame is not None:
                        async with session.turn:
                            await session.send(frame)
        except _GONE:
            pass

    async def _run_market(self) -> None:
        while True:
            await anyio.sleep(self.tick_interval)
            if self.paused:
                continue
            steps = self.market.step(time.time_ns())
            for session in list(self.sessions):
                try:
                    async with session.turn:
                        await session.on_market(steps)
                except _GONE:
                    self.sessions.discard(session)
