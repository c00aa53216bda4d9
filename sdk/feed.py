"""The async feed: the I/O driver around a ``FeedSession``.

It connects through a ``Connector``, feeds every read to the session and buffers the events it
answers with, sends what the session queues (paced to the exchange's request limit), sleeps until
the session's next deadline, and reconnects when told to. Every rule lives in the session; this
module only waits, reads, writes and keeps the tasks inside one task group.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import AsyncExitStack
from typing import Literal, Self

import anyio
import anyio.abc

from schemas.events import Event
from schemas.subscription import Subscription
from sdk.books import BookStats, BookView
from sdk.buffer import DEFAULT_MAX_BYTES, BufferOverflow, EventBuffer, Overflow
from sdk.connection import CONNECTION_ERRORS, Connection, Connector, DefaultConnector
from sdk.contract import Adapter
from sdk.deprecation import deprecated_alias
from sdk.errors import ConnectFailed, FeedClosed, sole_error
from sdk.ledger import SubscriptionState
from sdk.pacing import TokenBucket
from sdk.reconnect import ReconnectPolicy
from sdk.recording import Recorder, Settings
from sdk.session import FeedSession, FeedSettings, FeedStats
from sdk.source import ClosedOnExit
from sdk.transport import DEFAULT_MAX_MESSAGE

logger = logging.getLogger("xfeeds")

_CONNECT_ERRORS: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, TimeoutError)

__all__ = ["Feed", "FeedStats"]


class Feed(ClosedOnExit):
    """A stream of normalized events from one exchange; use as an async context manager.

    ``async for event in feed`` yields every event in arrival order, including acks, rejections,
    errors and reconnects. ``buffer_size`` bounds the events held for a slow consumer and
    ``buffer_bytes`` their estimated memory; ``overflow`` says what happens when either is reached:
    ``wait`` (the reader stops reading and TCP pushes back), ``drop_oldest`` (market data only,
    counted, reported by ``EventsDropped``, and any book that lost events is invalidated and
    resynced) or ``fail`` (the feed ends with a final ``Disconnected``).

    ``ping_interval`` is how often an idle connection is kept alive; a connection that receives
    nothing at all (not even a pong) for ``idle_timeout`` seconds is treated as dead and replaced.
    A subscription not acknowledged ``ack_timeout`` seconds after its request left is reported
    once; one whose data stops for ``stale_after`` seconds is reported as stale.

    Every book subscribed is also maintained (``feed.orderbook(symbol)``) and, unless switched off,
    verified against the exchange's checksum on every update. A failed check emits
    ``BookInvalidated`` and resubscribes that symbol alone, at most one resync every
    ``resync_interval`` seconds; its fresh snapshot emits ``BookResynced``.

    ``connector`` opens the connections (default: ``DefaultConnector``, WebSocket over TCP with
    ``max_message`` and ``allow_plaintext``, through picows where installed on asyncio); tests
    and replays pass their own.

    ``record`` (a ``Recorder``, or a directory for one with default settings) records everything
    the session sees, frames and times, so ``sdk.replay`` can give the same events again; a
    recording that cannot keep up is reported in the stream as ``RecordingGap``, never a stall.
    """

    def __init__(
        self,
        adapter: Adapter,
        url: str | None = None,
        *,
        connector: Connector | None = None,
        reconnect: ReconnectPolicy | None = None,
        buffer_size: int = 100_000,
        buffer_bytes: int = DEFAULT_MAX_BYTES,
        overflow: Overflow = "wait",
        ping_interval: float = 30.0,
        idle_timeout: float = 15.0,
        ack_timeout: float = 10.0,
        stale_after: float = 60.0,
        max_message: int = DEFAULT_MAX_MESSAGE,
        resync_interval: float = 0.5,
        allow_plaintext: bool = False,
        seed: int | None = None,
        record: Recorder | str | os.PathLike[str] | None = None,
    ) -> None:
        self.adapter = adapter
        self.url = url or adapter.default_url
        settings = FeedSettings(
            ack_timeout=ack_timeout,
            stale_after=stale_after,
            ping_interval=ping_interval,
            idle_timeout=idle_timeout,
            resync_interval=resync_interval,
            reconnect=reconnect or ReconnectPolicy(),
        )
        self.session = FeedSession(adapter, settings, seed=seed)
        """The rules of this feed, without I/O (subscriptions, books, liveness, counters)."""
        self._connector = connector or DefaultConnector(max_message=max_message, allow_plaintext=allow_plaintext)
        self._buffer = EventBuffer(buffer_size, overflow, max_bytes=buffer_bytes)
        self._pacer = TokenBucket(adapter.request_limit) if adapter.request_limit is not None else None
        self._connection: Connection | None = None
        self._outbox_ready = anyio.Event()
        self._deadline_moved = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._failure: Exception | None = None
        self._overflowed = False
        self._lifecycle: Literal["new", "open", "closed"] = "new"
        self.recorder = record if record is None or isinstance(record, Recorder) else Recorder(record)
        """What records this feed, if anything."""

    # -- what the session knows -------------------------------------------------------------

    @property
    def stats(self) -> FeedStats:
        return self.session.stats

    @property
    def subscriptions(self) -> list[Subscription]:
        """What the feed keeps subscribed (and restores after a reconnect)."""
        return self.session.subscriptions

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        """Where a subscription stands: ``pending`` until the exchange confirms it (again after
        each reconnect), ``active``, ``failed`` once refused, ``unsubscribed``; None if never asked."""
        return self.session.state(subscription)

    def all_refused(self, subscriptions: Iterable[Subscription]) -> bool:
        """Whether the exchange refused every one of ``subscriptions``: none of them will stream."""
        return all(self.session.state(subscription) == "failed" for subscription in subscriptions)

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def buffered(self) -> int:
        """Events received and not yet read: how far the consumer is behind."""
        return len(self._buffer)

    @property
    def book_stats(self) -> BookStats:
        """Checksum checks, failures and resyncs over every book of this feed."""
        return self.session.book_stats

    def orderbook(self, symbol: str, depth: int | None = None) -> BookView:
        """The maintained book of a subscribed symbol: empty and not ``valid`` until its snapshot.

        ``depth`` picks one when the symbol is subscribed at several depths (ValueError without it
        then); KeyError if no book subscription covers ``symbol``.
        """
        return self.session.orderbook(symbol, depth)

    book = deprecated_alias(orderbook, "Feed.book", "Feed.orderbook")

    def _book_session(self, symbol: str, depth: int | None) -> FeedSession:
        """The session maintaining ``symbol``'s book: this feed's only one (a blocking face reads it)."""
        return self.session

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Connect; a failure of this first connection raises ``ConnectFailed`` naming the URL.

        A feed is entered once: a closed one stays closed (make a new one to connect again).
        """
        if self._lifecycle != "new":
            raise RuntimeError(f"this feed is {self._lifecycle}: a feed is entered once; make a new one")
        self._lifecycle = "open"
        if self.recorder is not None:
            settings = self.session.settings
            self.recorder.start(
                self.adapter.name,
                self.url,
                Settings(
                    ack_timeout=settings.ack_timeout,
                    stale_after=settings.stale_after,
                    ping_interval=settings.ping_interval,
                    idle_timeout=settings.idle_timeout,
                    resync_interval=settings.resync_interval,
                ),
            )
        try:
            connection = await self._connector.connect(self.url)
        except _CONNECT_ERRORS as exc:
            await self._stop_recording()
            raise ConnectFailed(self.url, exc) from exc
        self._connected(connection, attempts=0)
        async with AsyncExitStack() as stack:
            self._task_group = await stack.enter_async_context(anyio.create_task_group())
            self._task_group.start_soon(self._run, connection)
            self._stack = stack.pop_all()
        return self

    async def aclose(self) -> None:
        """End the feed: readers get what is buffered, then the iteration ends."""
        self._lifecycle = "closed"
        self._buffer.close("feed closed by the user")
        stack, self._stack = self._stack, None
        if stack is not None and self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await stack.aclose()  # the tasks never raise, so nothing is wrapped in a group
        await self._stop_recording()

    async def _stop_recording(self) -> None:
        """Write what the recorder holds and stop it, off the event loop."""
        recorder = self.recorder
        if recorder is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(recorder.close)

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """Subscribe; every request is checked before anything is sent.

        Raises ``UnsupportedSubscription`` naming what the adapter supports. Acks and rejections
        arrive later in the stream as ``Subscribed`` and ``SubscriptionError``. ``verify=False``
        maintains the books of these subscriptions without checking their checksums. A closed
        feed raises ``FeedClosed``: nothing would ever be sent.
        """
        self._refuse_if_closed()
        self.session.subscribe(subscriptions, verify=verify)
        if self.recorder is not None:
            self.recorder.subscribed(subscriptions, verify, anyio.current_time(), time.time_ns())
        self._wake()

    async def unsubscribe(self, *subscriptions: Subscription) -> None:
        """Stop streams; the exchange confirms each with ``Unsubscribed``."""
        self._refuse_if_closed()
        self.session.unsubscribe(subscriptions)
        if self.recorder is not None:
            self.recorder.unsubscribed(subscriptions, anyio.current_time(), time.time_ns())
        self._wake()

    def _refuse_if_closed(self) -> None:
        if self._lifecycle == "closed":
            raise FeedClosed("the feed is closed")

    # -- consuming --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    def __anext__(self) -> Awaitable[Event]:
        """The next event; iteration ends when the user closes the feed, and raises
        ``FeedClosed`` (after every buffered event) when a policy ended it.

        Returns the buffer's own coroutine rather than awaiting it in another: a buffered event costs one."""
        return self._buffer.next_event()

    async def next_batch(self) -> list[Event]:
        """Every event buffered so far (at least one); raises ``FeedClosed`` at the end."""
        return await self._buffer.get_batch()

    # -- the driver -------------------------------------------------------------------------

    async def _run(self, connection: Connection) -> None:
        """Serve connections for the life of the feed; an unexpected error ends it and reaches the reader."""
        try:
            while True:
                reason, code = await self._serve(connection)
                now, wall = anyio.current_time(), time.time_ns()
                if self._overflowed:
                    if self.recorder is not None:
                        self.recorder.ended(reason, now, wall)
                    self._notices([self.session.ended(reason, wall)])
                    self._buffer.close(reason, failed=True)
                    return
                if self.recorder is not None:
                    self.recorder.connection_lost(reason, code, now, wall)
                self._notices(self.session.connection_lost(reason, now, wall))
                reconnected = await self._reconnect()
                if reconnected is None:
                    return
                connection = reconnected
        except Exception as group:  # a bug: end the feed and hand the error to the consumer as itself
            error = sole_error(group)
            logger.error("%s: feed stopped by an unexpected error", self.adapter.name, exc_info=error)
            self._failure = error
            self._buffer.close(str(error), error=error)
        finally:
            self._lifecycle = "closed"  # however it ended, nothing is sent any more

    async def _serve(self, connection: Connection) -> tuple[str, int | None]:
        """Run one connection until it ends; returns why it ended, and the close code if it had one."""
        self._connection = connection
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._send, connection)
                tasks.start_soon(self._keep_time, connection)
                ending = await self._read(connection)
                tasks.cancel_scope.cancel()
            return ending
        finally:
            self._connection = None
            with anyio.move_on_after(1, shield=True):
                await connection.close(*((1011, "consumer too slow") if self._overflowed else (1000, "")))

    async def _read(self, connection: Connection) -> tuple[str, int | None]:
        session, buffer, recorder = self.session, self._buffer, self.recorder
        try:
            while True:
                messages = await connection.receive_batch()
                now, wall = anyio.current_time(), time.time_ns()
                if recorder is not None:
                    recorder.received(messages, now, wall)
                events = session.receive(messages, now, wall)
                if buffer.will_wait:  # the consumer is behind: while we wait, silence is ours, not the venue's
                    self._reader_waiting(True)
                    dropped = await buffer.put(events)
                    self._reader_waiting(False)
                else:
                    dropped = await buffer.put(events)
                if dropped:
                    buffer.notify_gap(session.events_dropped(dropped, anyio.current_time(), time.time_ns()))
                if recorder is not None:
                    self._report_recording_gap(recorder)
                self._wake()
                if session.drop_reason is not None:
                    await connection.abort(session.drop_reason)
        except CONNECTION_ERRORS as exc:
            return str(exc) or type(exc).__name__, getattr(exc, "code", None)
        except BufferOverflow as exc:
            self._overflowed = True
            return f"{exc}; the overflow policy is fail", None

    def _reader_waiting(self, waiting: bool) -> None:
        """Tell the session (and the recording) that the reader waits for the consumer, or reads again."""
        now = anyio.current_time()
        if self.recorder is not None:
            record = self.recorder.reader_waiting if waiting else self.recorder.reader_resumed
            record(now, time.time_ns())
        if waiting:
            self.session.reader_waiting(now)
        else:
            self.session.reader_resumed(now)

    def _report_recording_gap(self, recorder: Recorder) -> None:
        gap = recorder.gap(self.adapter.name, anyio.current_time(), time.time_ns())
        if gap is not None:
            self._notices([gap])

    async def _send(self, connection: Connection) -> None:
        """Send what the session queues, in order; a request's ack clock starts when it has left."""
        session, recorder = self.session, self.recorder
        try:
            while True:
                for outgoing in session.take_outgoing():
                    if outgoing.text is None:
                        await connection.ping()
                    else:
                        if outgoing.paced and self._pacer is not None:
                            await self._pacer.acquire()
                        await connection.send_text(outgoing.text)
                    now = anyio.current_time()
                    if recorder is not None:
                        recorder.sent(outgoing.text, now, time.time_ns())
                    session.sent(outgoing, now)
                self._wake()
                if not session.has_outgoing:
                    self._outbox_ready = anyio.Event()
                    await self._outbox_ready.wait()
        except CONNECTION_ERRORS as exc:  # the reader sees the connection end and reconnects
            logger.info("%s: send failed: %s", self.adapter.name, exc)

    async def _keep_time(self, connection: Connection) -> None:
        """Sleep until the session's next deadline (or until it moves), then tick."""
        session, recorder = self.session, self.recorder
        while True:
            self._deadline_moved = anyio.Event()
            session.deadline_moved = False
            with anyio.move_on_after(session.next_deadline() - anyio.current_time()):
                await self._deadline_moved.wait()
            now, wall = anyio.current_time(), time.time_ns()
            if recorder is not None:
                recorder.ticked(now, wall)
            self._notices(session.tick(now, wall))
            if recorder is not None:
                self._report_recording_gap(recorder)
            self._wake()
            if session.drop_reason is not None:  # the reader sees the connection end; nothing is left to time
                await connection.abort(session.drop_reason)
                return

    async def _reconnect(self) -> Connection | None:
        """Wait as the session says and connect again; None once the policy gives up."""
        attempts = 0
        while True:
            attempts += 1
            delay = self.session.reconnect_delay()
            if delay is None:
                final = self.session.gave_up(time.time_ns())
                if self.recorder is not None:
                    self.recorder.ended(final.reason, anyio.current_time(), final.ts_received)
                self._notices([final])
                self._buffer.close(final.reason, failed=True)
                return None
            await anyio.sleep(delay)
            try:
                connection = await self._connector.connect(self.url)
            except _CONNECT_ERRORS as exc:
                logger.info("%s: reconnect failed: %s", self.adapter.name, exc)
                continue
            self._connected(connection, attempts)
            return connection

    def _connected(self, connection: Connection, attempts: int) -> None:
        self._connection = connection
        now, wall = anyio.current_time(), time.time_ns()
        if self.recorder is not None:
            self.recorder.connection_made(now, wall, attempts)
        self._notices(self.session.connection_made(now, wall))
        self._wake()

    def _notices(self, events: list[Event]) -> None:
        self._buffer.append_notices(events)

    def _wake(self) -> None:
        """Let the sender and the timer see what the last input queued or rescheduled."""
        if self.session.has_outgoing:
            self._outbox_ready.set()
        if self.session.deadline_moved:
            self._deadline_moved.set()
