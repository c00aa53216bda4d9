"""The async feed: one exchange connection, its subscriptions, and the stream of events.

This is the single core both facades drive. It owns the connection lifecycle (connect, keep-alive,
reconnect with backoff, re-sending the active subscriptions) and hands decoded events to the
consumer in batches through a bounded buffer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import anyio
import anyio.abc

from schemas.events import (
    BookInvalidated,
    BookSnapshot,
    BookUpdate,
    Disconnected,
    ErrorEvent,
    Event,
    EventsDropped,
    Reconnected,
    Status,
    Subscribed,
    SubscriptionError,
    SubscriptionStale,
)
from schemas.subscription import Subscription
from sdk.books import BookKeeper, BookStats, BookView
from sdk.buffer import BufferOverflow, EventBuffer, FeedClosed, Overflow
from sdk.contract import Adapter, Codec
from sdk.dispatch import FrameDispatcher, Handler
from sdk.ledger import SubscriptionLedger, SubscriptionState
from sdk.pacing import TokenBucket
from sdk.reconnect import ReconnectPolicy
from sdk.transport import DEFAULT_MAX_MESSAGE, ConnectionClosed, HandshakeFailed, WebSocket, connect

logger = logging.getLogger("xfeeds")

_CONNECT_ERRORS = (OSError, HandshakeFailed, anyio.BrokenResourceError, ConnectionClosed)


@dataclass(slots=True)
class FeedStats:
    """Running counts a user can inspect at any time."""

    frames: int = 0
    events: int = 0
    errors: int = 0
    subscription_errors: int = 0
    disconnects: int = 0
    reconnects: int = 0
    dropped: int = 0
    callback_errors: int = 0


class Feed:
    """A stream of normalized events from one exchange; use as an async context manager.

    ``async for event in feed`` yields every event in arrival order, including acks, rejections,
    errors and reconnects. ``buffer_size`` bounds the events held for a slow consumer; ``overflow``
    says what happens when it is full: ``wait`` (the reader stops reading and TCP pushes back),
    ``drop_oldest`` (counted, reported by ``EventsDropped``, and any book that lost events is
    invalidated and resynced) or ``fail`` (the feed ends with a final ``Disconnected``).

    ``ping_interval`` is how often an idle connection is kept alive; a connection that receives
    nothing at all (not even a pong) for ``idle_timeout`` seconds is treated as dead and replaced,
    because a socket can stay open long after the exchange stopped sending.

    Every book subscribed is also maintained (``feed.book(symbol)``) and, unless switched off,
    verified against the exchange's checksum on every update. A failed check emits
    ``BookInvalidated`` and resubscribes that symbol alone, at most one resync every
    ``resync_interval`` seconds; its fresh snapshot emits ``BookResynced``.
    """

    def __init__(
        self,
        adapter: Adapter,
        url: str | None = None,
        *,
        reconnect: ReconnectPolicy | None = None,
        buffer_size: int = 100_000,
        overflow: Overflow = "wait",
        ping_interval: float = 30.0,
        idle_timeout: float = 15.0,
        ack_timeout: float = 10.0,
        stale_after: float = 60.0,
        max_message: int = DEFAULT_MAX_MESSAGE,
        resync_interval: float = 0.5,
        allow_plaintext: bool = False,
        seed: int | None = None,
    ) -> None:
        self.adapter = adapter
        self.url = url or adapter.default_url
        self.stats = FeedStats()
        self._reconnect_policy = reconnect or ReconnectPolicy()
        self._ping_interval = ping_interval
        self._idle_timeout = idle_timeout

        self._ledger = SubscriptionLedger(ack_timeout=ack_timeout, stale_after=stale_after)
        self._max_message = max_message
        self._allow_plaintext = allow_plaintext
        self._rng = random.Random(seed)
        self._buffer = EventBuffer(buffer_size, overflow)
        self._books = BookKeeper(adapter.name)
        self._resync_interval = resync_interval
        self._pending_resyncs: dict[Subscription, None] = {}
        self._failed: str | None = None
        self._failed_attempts = 0
        self._connected_since = time.monotonic_ns()
        self._maintenance = False
        self._resync_wanted: anyio.Event | None = None
        handlers: dict[type, Handler] = {
            BookSnapshot: self._on_snapshot,
            BookUpdate: self._books.on_update,
            SubscriptionError: self._on_refusal,
            Subscribed: self._on_ack,
            Status: self._on_status,
            ErrorEvent: self._on_error,
        }
        self._websocket: WebSocket | None = None
        self._codec: Codec = adapter.new_codec()
        self._dispatcher = FrameDispatcher(
            self._codec,
            handlers=handlers,
            on_invalidated=self._request_resync,
            last_data=self._ledger.last_data,
            counts=self.stats,
        )
        self._pacer = TokenBucket(adapter.request_limit) if adapter.request_limit is not None else None
        self._task_group: anyio.abc.TaskGroup | None = None

    @property
    def subscriptions(self) -> list[Subscription]:
        """What the feed keeps subscribed (and restores after a reconnect)."""
        return list(self._ledger)

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        """Where a subscription stands: ``pending`` until the exchange confirms it (again after
        each reconnect), ``active``, ``failed`` once refused, ``unsubscribed``; None if never asked."""
        return self._ledger.state(subscription)

    @property
    def connected(self) -> bool:
        return self._websocket is not None

    @property
    def book_stats(self) -> BookStats:
        """Checksum checks, failures and resyncs over every book of this feed."""
        return self._books.stats

    def book(self, symbol: str) -> BookView:
        """The maintained book of a subscribed symbol; KeyError before its first snapshot."""
        return self._books.view(symbol)

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Connect; a failure of this first connection raises instead of retrying."""
        self._websocket = await self._open()
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._supervise, self._websocket)
        self._task_group.start_soon(self._resync_books)
        self._task_group.start_soon(self._watch_subscriptions)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        self._buffer.close("feed closed by the user")
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        try:
            return await self._task_group.__aexit__(exc_type, exc, traceback)
        finally:
            if self._websocket is not None:
                with anyio.CancelScope(shield=True):
                    await self._websocket.close()
                self._websocket = None

    # -- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """Subscribe; every request is checked before anything is sent.

        Raises ``UnsupportedSubscription`` naming what the adapter supports. Acks and rejections
        arrive later in the stream as ``Subscribed`` and ``SubscriptionError``. ``verify=False``
        maintains the books of these subscriptions without checking their checksums.
        """
        for subscription in subscriptions:
            self.adapter.check(subscription)
        new = self._ledger.add(subscriptions)
        self._ledger.expect_acks(new, time.monotonic(), time.time_ns())
        for subscription in new:
            if subscription.channel == "book":
                self._books.track(subscription.symbol, verify=verify)
        if new:
            await self._send(self._codec.subscribe(new))

    async def unsubscribe(self, *subscriptions: Subscription) -> None:
        """Stop streams; the exchange confirms each with ``Unsubscribed``."""
        known = self._ledger.remove(subscriptions)
        for subscription in known:
            if subscription.channel == "book":
                self._books.forget(subscription.symbol)
        if known:
            await self._send(self._codec.unsubscribe(known))

    async def _send(self, frames: list[str]) -> None:
        """Send now if connected; otherwise the reconnect sends every active subscription."""
        websocket = self._websocket
        if websocket is None:
            return
        try:
            for frame in frames:
                await self._paced_send(websocket, frame)
        except _CONNECT_ERRORS as exc:
            logger.info("%s: send failed (%s); the reconnect will resend", self.adapter.name, exc)

    # -- consuming --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        """The next event; iteration ends when the user closes the feed, and raises
        ``FeedClosed`` (after every buffered event) when a policy ended it."""
        try:
            return await self._buffer.get()
        except FeedClosed as closed:
            if closed.failed:
                raise
            raise StopAsyncIteration from None

    async def next_batch(self) -> list[Event]:
        """Every event buffered so far (at least one); raises ``FeedClosed`` at the end."""
        return await self._buffer.get_batch()

    # -- connection -------------------------------------------------------------------------

    async def _open(self) -> WebSocket:
        """Connect with a fresh codec and request every active subscription."""
        websocket = await connect(self.url, max_message=self._max_message, allow_plaintext=self._allow_plaintext)
        codec = self.adapter.new_codec()
        codec.resume(self._codec)
        self._codec = codec
        self._dispatcher.use(codec)
        if self._ledger:
            self._ledger.expect_acks(self._ledger, time.monotonic(), time.time_ns())
            for frame in self._codec.subscribe(list(self._ledger)):
                await self._paced_send(websocket, frame)
        return websocket

    async def _watch_subscriptions(self) -> None:
        """Report, once each, subscriptions never acknowledged and subscriptions gone quiet.

        Neither is dropped: a late acknowledgement, or data, may still come.
        """
        ledger = self._ledger
        while True:
            await anyio.sleep(min(1.0, ledger.ack_timeout / 4, ledger.stale_after_ns / 4e9))
            now = time.time_ns()
            notices: list[Event] = []
            if self._websocket is not None:
                for subscription, silent_for in ledger.newly_stale(now):
                    logger.warning("%s: %s: no data for %.1f s", self.adapter.name, subscription, silent_for / 1e9)
                    notices.append(
                        SubscriptionStale(
                            exchange=self.adapter.name,
                            symbol=subscription.symbol,
                            subscription=subscription,
                            silent_for=silent_for,
                            ts_received=now,
                        )
                    )
            for subscription in ledger.overdue(time.monotonic()):
                message = f"no acknowledgement within {ledger.ack_timeout:g} s"
                logger.warning("%s: %s: %s", self.adapter.name, subscription, message)
                self.stats.subscription_errors += 1
                notices.append(
                    SubscriptionError(
                        exchange=self.adapter.name,
                        symbol=subscription.symbol,
                        subscription=subscription,
                        message=message,
                        ts_received=now,
                    )
                )
            self._buffer.notify(notices)

    async def _paced_send(self, websocket: WebSocket, frame: str) -> None:
        """Send a request, first waiting if the exchange's request limit requires it."""
        if self._pacer is not None:
            await self._pacer.acquire()
        await websocket.send_text(frame)

    async def _supervise(self, websocket: WebSocket) -> None:
        """Read until the connection ends, then reconnect, for the life of the feed."""
        while True:
            reason = await self._read(websocket)
            if self._failed is not None:
                self._buffer.notify([self._disconnected(reason, final=True)])
                self._buffer.close(reason, failed=True)
                await websocket.close(1011, "consumer too slow")
                self._websocket = None
                return
            self._websocket = None
            self._books.suspend()
            self.stats.disconnects += 1
            down_since = time.monotonic_ns()
            if (down_since - self._connected_since) / 1e9 >= self._reconnect_policy.healthy_after:
                self._failed_attempts = 0  # that connection was healthy: the backoff starts over
            logger.warning("%s: disconnected: %s", self.adapter.name, reason)
            self._buffer.notify([self._disconnected(reason)])
            reconnected = await self._reconnect(down_since)
            if reconnected is None:
                return
            websocket = reconnected

    async def _reconnect(self, down_since: int) -> WebSocket | None:
        policy = self._reconnect_policy
        attempt = 0
        while True:
            attempt += 1
            self._failed_attempts += 1
            if policy.exhausted(attempt):
                reason = f"gave up after {attempt - 1} reconnect attempts"
                logger.error("%s: %s", self.adapter.name, reason)
                self._buffer.notify([self._disconnected(reason, final=True)])
                self._buffer.close(reason, failed=True)
                return None
            delay = policy.delay(self._failed_attempts, self._rng)
            if self._maintenance:
                delay = max(delay, policy.maintenance_floor)
            await anyio.sleep(delay)
            try:
                websocket = await self._open()
            except _CONNECT_ERRORS as exc:
                logger.info("%s: reconnect attempt %d failed: %s", self.adapter.name, attempt, exc)
                continue
            self._websocket = websocket
            self._connected_since = time.monotonic_ns()
            self.stats.reconnects += 1
            downtime = self._connected_since - down_since
            reconnected = Reconnected(
                exchange=self.adapter.name, attempt=attempt, downtime=downtime, ts_received=time.time_ns()
            )
            self._buffer.notify([reconnected])
            return websocket

    async def _read(self, websocket: WebSocket) -> str:
        """Decode and buffer everything received until the connection ends; returns why."""
        async with anyio.create_task_group() as keepalive:
            keepalive.start_soon(self._keep_alive, websocket)
            try:
                while True:
                    messages = await websocket.receive_batch()
                    dropped = await self._buffer.put(self._dispatcher.decode(messages, time.time_ns()))
                    if dropped:
                        self._on_dropped(dropped)
                    if self._codec.reconnect_reason is not None:
                        reason = f"the codec asked for a new connection: {self._codec.reconnect_reason}"
                        await websocket.close(1000, "reconnecting")
                        break
            except _CONNECT_ERRORS as exc:
                reason = str(exc) or type(exc).__name__
            except BufferOverflow as exc:
                reason = f"{exc}; the overflow policy is fail"
                self._failed = reason
            finally:
                keepalive.cancel_scope.cancel()
        return reason

    def _on_snapshot(self, snapshot: BookSnapshot) -> Event | None:
        return self._books.on_snapshot(snapshot, self._codec.book_checksum(snapshot.symbol))

    def _on_ack(self, ack: Subscribed) -> None:
        self._ledger.acknowledged(ack.subscription)

    def _on_refusal(self, refusal: SubscriptionError) -> None:
        """Count and log; forget a subscription the exchange refused so it is not re-sent."""
        self.stats.subscription_errors += 1
        logger.warning("%s: subscription refused: %s", self.adapter.name, refusal.message)
        if refusal.subscription is not None:
            self._ledger.refused(refusal.subscription)
            if self._ledger.forget(refusal.subscription):
                self._books.forget(refusal.subscription.symbol)

    def _on_status(self, status: Status) -> None:
        """Remember maintenance: reconnects after it wait at least the policy's floor."""
        self._maintenance = status.state == "maintenance"
        if self._maintenance:
            logger.warning("%s: exchange announced maintenance: %s", self.adapter.name, status.detail)

    def _on_error(self, error: ErrorEvent) -> None:
        self.stats.errors += 1
        logger.warning("%s: %s: %.200s", self.adapter.name, error.message, error.raw)

    def _on_dropped(self, dropped: list[Event]) -> None:
        """Report a drop in the stream; books that lost events are invalidated and resynced."""
        self.stats.dropped += len(dropped)
        logger.warning("%s: consumer too slow: dropped %d events", self.adapter.name, len(dropped))
        now = time.time_ns()
        notices: list[Event] = [
            EventsDropped(exchange=self.adapter.name, count=len(dropped), total=self.stats.dropped, ts_received=now)
        ]
        for symbol in dict.fromkeys(e.symbol for e in dropped if isinstance(e, BookSnapshot | BookUpdate)):
            invalidated = self._books.invalidate(symbol, now)
            if invalidated is not None:
                notices.append(invalidated)
                self._request_resync(invalidated)
        self._buffer.notify_gap(notices)

    def _request_resync(self, invalidated: BookInvalidated) -> None:
        logger.warning(
            "%s: %s book invalid (%s, expected %s, computed %s); resyncing",
            self.adapter.name,
            invalidated.symbol,
            invalidated.reason,
            invalidated.expected,
            invalidated.computed,
        )
        subscription = self._ledger.book_subscription(invalidated.symbol)
        if subscription is not None:
            self._pending_resyncs[subscription] = None
            if self._resync_wanted is not None:
                self._resync_wanted.set()

    async def _resync_books(self) -> None:
        """Unsubscribe and resubscribe invalid books one at a time, paced for rate limits."""
        while True:
            while not self._pending_resyncs:
                self._resync_wanted = anyio.Event()
                await self._resync_wanted.wait()
            subscription = next(iter(self._pending_resyncs))
            del self._pending_resyncs[subscription]
            if subscription in self._ledger:
                codec = self._codec
                await self._send([*codec.unsubscribe([subscription]), *codec.subscribe([subscription])])
                await anyio.sleep(self._resync_interval)

    async def _keep_alive(self, websocket: WebSocket) -> None:
        """Ping when the connection is quiet; drop it when it has been silent for ``idle_timeout``."""
        check = min(self._ping_interval, self._idle_timeout / 3)
        last_ping = time.monotonic()
        while True:
            await anyio.sleep(check)
            now = time.monotonic()
            silent = now - websocket.last_received
            if silent >= self._idle_timeout:
                await websocket.abort(f"nothing received for {silent:.1f} s")
                return
            if silent >= check or now - last_ping >= self._ping_interval:
                last_ping = now
                frame = self._codec.ping()
                try:
                    if frame is None:
                        await websocket.ping()
                    else:
                        await websocket.send_text(frame)
                except _CONNECT_ERRORS:
                    return

    def _disconnected(self, reason: str, *, final: bool = False) -> Disconnected:
        return Disconnected(exchange=self.adapter.name, reason=reason, final=final, ts_received=time.time_ns())
