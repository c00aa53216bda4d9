"""The rules of one feed, sans-I/O: what to send, what to deliver, and when to look again.

A ``FeedSession`` holds the codec of the current connection, the subscription ledger, the
maintained books, the resync queue, liveness and the counters. It is driven by inputs (a
connection made or lost, frames received, subscribe, unsubscribe, a tick) that carry the current
time as arguments, and it answers with events to deliver and ``Outgoing`` frames to send, plus the
time it next needs a tick. It never awaits, sleeps or reads a clock, so every rule (ack timeouts,
stale streams, resync pacing, backoff, the maintenance floor) is tested with a fake clock in
microseconds; ``sdk.feed.Feed`` is the thin driver that does the I/O around it.

Two clocks come in: ``now`` (monotonic seconds, for every deadline) and ``wall_ns`` (wall-clock
nanoseconds, stamped on events as ``ts_received``).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from schemas.events import (
    BookInvalidated,
    BookSnapshot,
    BookUpdate,
    Candle,
    Disconnected,
    ErrorEvent,
    Event,
    EventsDropped,
    Instrument,
    Quote,
    Reconnected,
    Status,
    Subscribed,
    SubscriptionError,
    SubscriptionStale,
    Ticker,
    Trade,
)
from schemas.subscription import Channel, Subscription
from sdk.books import BookKeeper, BookStats, BookView, ReadOnLoop, read_here
from sdk.contract import Adapter, Codec, undecodable_frame
from sdk.event_classes import BOOK_SNAPSHOT, BOOK_UPDATE
from sdk.ledger import SubscriptionLedger, SubscriptionState
from sdk.reconnect import ReconnectPolicy

logger = logging.getLogger("xfeeds")

NEVER: Final = math.inf
"""``next_deadline()`` when nothing is scheduled."""

CHANNEL_OF: Final[dict[type, Channel]] = {
    Trade: "trades",
    BookSnapshot: "book",
    BookUpdate: "book",
    Ticker: "ticker",
    Quote: "quotes",
    Candle: "candles",
    Instrument: "instruments",
}
"""The channel a market-data event belongs to: liveness is kept per (channel, symbol) stream."""


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


@dataclass(frozen=True, kw_only=True)
class FeedSettings:
    """The timing rules of a feed (seconds); see ``Feed`` for what each one means."""

    ack_timeout: float = 10.0
    stale_after: float = 60.0
    ping_interval: float = 30.0
    idle_timeout: float = 15.0
    resync_interval: float = 0.5
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One thing to send: a text frame, or a transport ping when ``text`` is None.

    ``requests`` are the subscriptions whose acknowledgement clock starts once this frame has left
    (the last frame of a request); ``paced`` frames wait for the exchange's request limit.
    """

    text: str | None
    requests: tuple[Subscription, ...] = ()
    paced: bool = True


class FeedSession:
    """The sans-I/O core of a feed for one exchange adapter, across all of its connections."""

    def __init__(self, adapter: Adapter, settings: FeedSettings | None = None, *, seed: int | None = None) -> None:
        self.adapter = adapter
        self.exchange = adapter.name
        self.settings = settings = settings or FeedSettings()
        self.stats = FeedStats()
        self._ledger = SubscriptionLedger(ack_timeout=settings.ack_timeout, stale_after=settings.stale_after)
        self._books = BookKeeper(adapter.name, tolerate_crossed=adapter.tolerates_crossed_books)
        self._codec: Codec = adapter.new_codec()
        self._outbox: list[Outgoing] = []
        self._resyncs: dict[Subscription, None] = {}
        self._next_resync = -NEVER
        self._rng = random.Random(seed)
        self._check_every = min(settings.ping_interval, settings.idle_timeout / 3)
        self.connected = False
        self._connections = 0
        self._connected_at = 0.0
        self._down_since = 0.0
        self._last_received = 0.0
        self._last_ping = 0.0
        self._maintenance = False
        self._attempt = 0
        """Reconnect attempts in the current outage (what ``Reconnected.attempt`` reports)."""
        self._backoff = 0
        """Attempts since the last healthy connection: what the backoff and the attempt limit count."""
        self._waiting_since: float | None = None
        """While set, the reader waits for the consumer: nothing is read, so silence proves nothing."""
        self.drop_reason: str | None = None
        """Set when the session wants the current connection dropped (silent, or the codec asked)."""
        self.deadline_moved = False
        """Set when an input scheduled something sooner than ``next_deadline()`` said before;
        the driver clears it when it re-reads the deadline."""

    # -- queries ----------------------------------------------------------------------------

    @property
    def codec(self) -> Codec:
        """The codec of the current (or last) connection."""
        return self._codec

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._ledger)

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        return self._ledger.state(subscription)

    @property
    def book_stats(self) -> BookStats:
        return self._books.stats

    def orderbook(self, symbol: str, depth: int | None = None, run: ReadOnLoop = read_here) -> BookView:
        """The maintained book of ``symbol`` (empty and invalid until its snapshot); ``depth`` picks
        one when the symbol is subscribed at several."""
        return self._books.view(symbol, depth, run)

    @property
    def backoff_attempts(self) -> int:
        """Connection attempts since the last healthy connection: what the backoff and the limit count."""
        return self._backoff

    @property
    def has_outgoing(self) -> bool:
        return bool(self._outbox)

    def take_outgoing(self) -> list[Outgoing]:
        """Everything queued to send, in order; the driver reports each with ``sent``."""
        outgoing, self._outbox = self._outbox, []
        return outgoing

    # -- inputs from the user ---------------------------------------------------------------

    def subscribe(self, subscriptions: Iterable[Subscription], *, verify: bool = True) -> list[Subscription]:
        """Record subscriptions and queue their requests if connected (else the next connection sends them).

        Every request is checked first (``UnsupportedSubscription``), so a bad one records nothing.
        ``verify=False`` maintains these books without checking checksums. Returns the new ones.
        """
        wanted = list(subscriptions)
        for subscription in wanted:
            self.adapter.check(subscription)
        new = self._ledger.add(wanted, verify=verify)
        for subscription in new:
            if subscription.channel == "book" and subscription.depth is not None:
                self._books.track(subscription.symbol, subscription.depth, verify=verify)
        if new and self.connected:
            self._request(self._codec.subscribe(new), new)
        return new

    def unsubscribe(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        """Forget subscriptions and queue their cancellation if connected; returns the known ones."""
        known = self._ledger.remove(subscriptions)
        for subscription in known:
            self._resyncs.pop(subscription, None)
            self._forget_book(subscription)
        if known and self.connected:
            self._request(self._codec.unsubscribe(known), ())
        return known

    # -- inputs from the connection ---------------------------------------------------------

    def connection_made(self, now: float, wall_ns: int) -> list[Event]:
        """A connection is open: a fresh codec, every active subscription requested again.

        Returns ``Reconnected`` when this ends an outage. A status (maintenance) belongs to the
        connection that announced it, so it ends here.
        """
        events: list[Event] = []
        if self._connections:
            self.stats.reconnects += 1
            downtime = round((now - self._down_since) * 1e9)
            events.append(
                Reconnected(exchange=self.exchange, attempt=self._attempt, downtime=downtime, ts_received=wall_ns)
            )
            codec = self.adapter.new_codec()
            codec.resume(self._codec)
            self._codec = codec
        self._connections += 1
        self.connected = True
        self._connected_at = self._last_received = self._last_ping = now
        self._maintenance = False
        self.drop_reason = None
        again = self._ledger.reconnected()
        if again:
            self._request(self._codec.subscribe(again), again)
        self.deadline_moved = True
        return events

    def receive(self, frames: Sequence[bytes | str], now: float, wall_ns: int) -> list[Event]:
        """The events of frames received together, each followed by what it caused.

        A frame the codec raises on becomes one ``ErrorEvent`` and costs only itself.
        """
        self._last_received = now
        decode = self._codec.decode_frame
        books = self._books
        last_data = self._ledger.last_data
        events: list[Event] = []
        for frame in frames:
            try:
                decoded = decode(frame, wall_ns)
            except Exception as exc:  # malformed input, or a codec that broke
                decoded = [undecodable_frame(self._codec, frame, exc, wall_ns)]
            for event in decoded:
                events.append(event)
                channel = CHANNEL_OF.get(type(event))
                if channel is not None:  # market data: its stream is alive (one frame may carry several)
                    last_data[(channel, event.symbol)] = now  # type: ignore[union-attr,index]  # mapped types have one
                    if type(event) is BOOK_UPDATE:
                        invalid = books.on_update(event)
                        if invalid is not None:
                            events.append(invalid)
                            self._resync(invalid)
                    elif type(event) is BOOK_SNAPSHOT:
                        follow_up = books.on_snapshot(event, self._codec.book_checksum(event.symbol))
                        if follow_up is not None:
                            events.append(follow_up)
                            if type(follow_up) is BookInvalidated:
                                self._resync(follow_up)
                elif type(event) is Subscribed:
                    self._ledger.acknowledged(event.subscription)
                elif type(event) is SubscriptionError:
                    self._refused(event)
                elif type(event) is Status:
                    self._status(event)
                elif type(event) is ErrorEvent:
                    self._error(event)
                elif type(event) is BookInvalidated:  # the codec lost track of the venue's book
                    books.lost(event)
                    self._resync(event)
        stats = self.stats
        stats.frames += len(frames)
        stats.events += len(events)
        reason = self._codec.reconnect_reason
        if reason is not None and self.drop_reason is None:
            self.drop_reason = reason
        return events

    def connection_lost(self, reason: str, now: float, wall_ns: int) -> list[Event]:
        """The connection ended: books wait for fresh snapshots, nothing awaits an ack, nothing is sent."""
        if not self.connected:
            return []
        self.connected = False
        self._books.suspend()
        self._ledger.disconnected()
        self._outbox.clear()
        self._resyncs.clear()  # the next connection re-subscribes every book anyway
        self.stats.disconnects += 1
        if now - self._connected_at >= self.settings.reconnect.healthy_after:
            self._backoff = 0  # that connection was healthy: the backoff and the attempt limit start over
        self._attempt = 0
        self._down_since = now
        logger.warning("%s: disconnected: %s", self.exchange, reason)
        return [Disconnected(exchange=self.exchange, reason=reason, ts_received=wall_ns)]

    def reconnect_delay(self) -> float | None:
        """Seconds to wait before the next attempt, or None when the policy gives up.

        Full-jitter backoff that grows with attempts since the last healthy connection; no sooner
        than the maintenance floor after the exchange announced maintenance. The policy's
        ``max_attempts`` counts the same attempts, so a venue that accepts every connection and
        drops it at once still ends the feed.
        """
        policy = self.settings.reconnect
        self._attempt += 1
        self._backoff += 1
        if policy.exhausted(self._backoff):
            return None
        delay = policy.delay(self._backoff, self._rng)
        return max(delay, policy.maintenance_floor) if self._maintenance else delay

    def gave_up(self, wall_ns: int) -> Disconnected:
        """The final ``Disconnected`` once ``reconnect_delay`` said no more attempts."""
        return self.ended(f"gave up after {self._backoff - 1} reconnect attempts", wall_ns)

    def ended(self, reason: str, wall_ns: int) -> Disconnected:
        """The final ``Disconnected`` of a feed a policy ended."""
        logger.error("%s: %s", self.exchange, reason)
        return Disconnected(exchange=self.exchange, reason=reason, final=True, ts_received=wall_ns)

    def events_dropped(self, dropped: list[Event], now: float, wall_ns: int) -> list[Event]:
        """The consumer lost ``dropped``: notices for the gap, and books that lost events resynced."""
        self.stats.dropped += len(dropped)
        logger.warning("%s: consumer too slow: dropped %d events", self.exchange, len(dropped))
        notices: list[Event] = [
            EventsDropped(exchange=self.exchange, count=len(dropped), total=self.stats.dropped, ts_received=wall_ns)
        ]
        lost = dict.fromkeys((e.symbol, e.depth) for e in dropped if isinstance(e, BookSnapshot | BookUpdate))
        for key in lost:
            invalidated = self._books.invalidate(key, wall_ns, "dropped")
            if invalidated is not None:
                notices.append(invalidated)
                self._resync(invalidated)
        return notices

    def reader_waiting(self, now: float) -> None:
        """The reader stopped reading until the consumer makes room (the ``wait`` policy).

        The venue may be sending all along: until ``reader_resumed``, no stream is judged silent.
        """
        self._waiting_since = now

    def reader_resumed(self, now: float) -> None:
        """The reader reads again; the time it waited does not count as silence."""
        if self._waiting_since is None:
            return
        waited = now - self._waiting_since
        self._waiting_since = None
        self._last_received += waited
        self._ledger.pause(waited)
        self.deadline_moved = True

    def sent(self, outgoing: Outgoing, now: float) -> None:
        """``outgoing`` has left: the acknowledgement clocks of its requests start now."""
        if outgoing.requests and self._ledger.sent(outgoing.requests, now) is not None:
            self.deadline_moved = True

    # -- time -------------------------------------------------------------------------------

    def next_deadline(self) -> float:
        """When ``tick`` next has something to do (monotonic seconds; ``NEVER`` if nothing)."""
        candidates = [self._ledger.next_ack_deadline()]
        if self.connected:
            candidates.append(self._next_ping())
            if self._waiting_since is None:
                candidates += [self._last_received + self.settings.idle_timeout, self._ledger.next_stale_check()]
            if self._resyncs:
                candidates.append(self._next_resync)
        return min((c for c in candidates if c is not None), default=NEVER)

    def tick(self, now: float, wall_ns: int) -> list[Event]:
        """Do what is due at ``now``: liveness, pings, stale streams, resyncs, overdue acks."""
        events: list[Event] = []
        reading = self._waiting_since is None
        if self.connected:
            silent = now - self._last_received
            if reading and silent >= self.settings.idle_timeout and self.drop_reason is None:
                self.drop_reason = f"nothing received for {silent:.1f} s"
            if now >= self._next_ping():
                self._last_ping = now
                self._outbox.append(Outgoing(self._codec.ping(), paced=False))
            for subscription, silent_for in self._ledger.newly_stale(now) if reading else ():
                logger.warning("%s: %s: no data for %.1f s", self.exchange, subscription, silent_for)
                events.append(
                    SubscriptionStale(
                        exchange=self.exchange,
                        symbol=subscription.symbol,
                        subscription=subscription,
                        silent_for=round(silent_for * 1e9),
                        ts_received=wall_ns,
                    )
                )
                if subscription.channel == "book" and subscription.depth is not None:
                    frozen = self._books.invalidate((subscription.symbol, subscription.depth), wall_ns, "stale")
                    if frozen is not None:  # a book whose stream stopped can no longer be vouched for
                        events.append(frozen)
                        self._resync(frozen)
            if self._resyncs and now >= self._next_resync:
                self._start_resync(now)
        for subscription in self._ledger.overdue(now):
            message = f"no acknowledgement within {self._ledger.ack_timeout:g} s"
            logger.warning("%s: %s: %s", self.exchange, subscription, message)
            self.stats.subscription_errors += 1
            events.append(
                SubscriptionError(
                    exchange=self.exchange,
                    symbol=subscription.symbol,
                    subscription=subscription,
                    message=message,
                    ts_received=wall_ns,
                )
            )
        return events

    # -- rules ------------------------------------------------------------------------------

    def _request(self, frames: list[str], subscriptions: Iterable[Subscription]) -> None:
        """Queue a request's frames; its subscriptions await acks once the last frame has left."""
        if not frames:
            return
        *first, last = frames
        self._outbox.extend(Outgoing(frame) for frame in first)
        self._outbox.append(Outgoing(last, tuple(subscriptions)))

    def _next_ping(self) -> float:
        """Ping a quiet connection, and every ``ping_interval`` in any case, never in a tight loop."""
        check = self._check_every
        quiet = self._last_received + check
        return max(self._last_ping + check, min(quiet, self._last_ping + self.settings.ping_interval))

    def _resync(self, invalidated: BookInvalidated) -> None:
        logger.warning(
            "%s: %s book invalid (%s, expected %s, computed %s); resyncing",
            self.exchange,
            invalidated.symbol,
            invalidated.reason,
            invalidated.expected,
            invalidated.computed,
        )
        subscription = self._ledger.book_subscription(invalidated.symbol, invalidated.depth or 0)
        if subscription is not None:
            self._resyncs[subscription] = None
            self.deadline_moved = True

    def _start_resync(self, now: float) -> None:
        """Unsubscribe and resubscribe the next invalid book, then wait ``resync_interval``."""
        subscription = next(iter(self._resyncs))
        del self._resyncs[subscription]
        if subscription in self._ledger:
            codec = self._codec
            self._request([*codec.unsubscribe([subscription]), *codec.subscribe([subscription])], ())
            self._next_resync = now + self.settings.resync_interval

    def _refused(self, refusal: SubscriptionError) -> None:
        """Count and log; a refused subscription is forgotten so it is never re-sent."""
        self.stats.subscription_errors += 1
        logger.warning("%s: subscription refused: %s", self.exchange, refusal.message)
        subscription = refusal.subscription
        if subscription is not None and self._ledger.refused(subscription):
            self._resyncs.pop(subscription, None)
            self._forget_book(subscription)

    def _forget_book(self, subscription: Subscription) -> None:
        """Stop maintaining the book of this subscription alone (the same symbol may be kept at other depths)."""
        if subscription.channel == "book" and subscription.depth is not None:
            self._books.forget(subscription.symbol, subscription.depth)

    def _status(self, status: Status) -> None:
        """Remember maintenance: the reconnect after it waits at least the policy's floor."""
        self._maintenance = status.state == "maintenance"
        if self._maintenance:
            logger.warning("%s: exchange announced maintenance: %s", self.exchange, status.detail)

    def _error(self, error: ErrorEvent) -> None:
        self.stats.errors += 1
        logger.warning("%s: %s: %.200s", self.exchange, error.message, error.raw)
