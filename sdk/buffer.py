"""The bounded hand-off between a feed's connection task and its consumer.

A memory-object stream costs several microseconds per item, more than decoding a frame, so the
reader hands over each network read's events as one batch and the consumer pops them from a
deque without any further task switch. The buffer is full at ``capacity`` events or ``max_bytes``
of their estimated memory, whichever comes first: a venue's large books cannot fill memory under a
bound meant for trades. What happens then is the feed's ``Overflow`` policy: the reader waits (TCP
then pushes back on the exchange), the oldest market data is dropped, or the feed fails.

Only market data is ever dropped. Control events (acknowledgements, refusals, errors, disconnects,
book invalidations...) are what a user needs to make sense of a gap, so they stay, in order; if a
buffer holds nothing but control events, ``drop_oldest`` waits like ``wait``.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Literal, get_args

import anyio
import msgspec

from schemas.events import BookSnapshot, BookUpdate, Event, EventsDropped, MarketEvent
from sdk.errors import FeedClosed
from sdk.event_classes import BOOK_SNAPSHOT, BOOK_UPDATE

Overflow = Literal["wait", "drop_oldest", "fail"]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
"""Above what a full default buffer of small events takes, far below what large books could."""

EVENT_BYTES: Final = 512
"""Estimated memory of one event with its numbers and texts (a trade measures about 400 bytes)."""

LEVEL_BYTES: Final = 256
"""Estimated memory of one book level with its two numbers."""

_MARKET_DATA: Final = frozenset(get_args(MarketEvent))
"""What ``drop_oldest`` may drop: market data, which the next update or snapshot replaces."""

_FIXED_SIZE: Final = _MARKET_DATA - {BookSnapshot, BookUpdate}
"""Market data of a bounded size: a batch of only these is weighed without a look at each event."""


def extra_bytes(event: Event) -> int:
    """An event's estimated memory beyond ``EVENT_BYTES``: book levels, and the texts of control events."""
    if type(event) is BOOK_UPDATE or type(event) is BOOK_SNAPSHOT:  # most of a busy feed's events
        return LEVEL_BYTES * (len(event.bids) + len(event.asks))
    if type(event) in _FIXED_SIZE:
        return 0
    if isinstance(event, BookUpdate | BookSnapshot):
        return LEVEL_BYTES * (len(event.bids) + len(event.asks))
    return len(msgspec.json.encode(event))  # rare, and their texts come from the venue


def batch_extra_bytes(events: list[Event]) -> int:
    """``extra_bytes`` of a batch; a batch of trades, tickers... costs one pass in C."""
    if _FIXED_SIZE.issuperset(map(type, events)):
        return 0
    return sum(map(extra_bytes, events))


class BufferOverflow(Exception):
    """The buffer is full and the policy is ``fail``."""


class EventBuffer:
    """Single-producer, single-consumer event queue with batch puts, bounded in events and bytes."""

    def __init__(self, capacity: int, overflow: Overflow = "wait", *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if overflow not in ("wait", "drop_oldest", "fail"):
            raise ValueError(f"overflow policy must be wait, drop_oldest or fail, not {overflow!r}")
        self._front: list[Event] = []
        """Notices about a drop: the gap is at the head of the buffer, so they are read first."""
        self._kept: deque[Event] = deque()
        """Control events a drop passed over: older than everything in ``_events``, read before it."""
        self._events: deque[Event] = deque()
        self._extra = 0
        """``extra_bytes`` of ``_kept`` and ``_events``: with ``EVENT_BYTES`` each, their estimated memory."""
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._overflow = overflow
        self._readable: anyio.Event | None = None
        self._writable: anyio.Event | None = None
        self._closed: Exception | None = None
        """What a reader gets once everything buffered is read: ``FeedClosed``, or the error that ended the feed."""

    def __len__(self) -> int:
        return len(self._front) + len(self._kept) + len(self._events)

    @property
    def bytes(self) -> int:
        """Estimated memory of the buffered events."""
        return EVENT_BYTES * (len(self._kept) + len(self._events)) + self._extra

    def _full(self) -> bool:
        return len(self._kept) + len(self._events) >= self._capacity or self.bytes >= self._max_bytes

    def _exceeded_by(self, count: int, extra: int) -> bool:
        """Whether ``count`` more events with ``extra`` bytes would go over a bound."""
        return len(self._kept) + len(self._events) + count > self._capacity or (
            self.bytes + EVENT_BYTES * count + extra > self._max_bytes
        )

    @property
    def will_wait(self) -> bool:
        """Whether the next ``put`` may wait for the consumer (the buffer is full and the policy is not ``fail``)."""
        return self._overflow != "fail" and self._closed is None and self._full()

    async def put(self, events: list[Event]) -> list[Event]:
        """Append a batch; returns the market data the ``drop_oldest`` policy discarded to make room.

        With ``wait`` (and with ``drop_oldest`` when only control events are left to drop) it first
        waits while the buffer is full; with ``fail`` a full buffer raises ``BufferOverflow``.
        """
        dropped: list[Event] = []
        extra = batch_extra_bytes(events)
        if self._overflow == "drop_oldest":
            events, extra, dropped = self._drop_market_data(events, extra)
            full = self._exceeded_by(len(events), extra)  # only control events are left to drop
        else:
            full = self._full()
        if full and self._closed is None:
            if self._overflow == "fail":
                raise BufferOverflow(
                    f"the consumer fell {len(self._kept) + len(self._events)} events ({self.bytes:,} bytes) behind"
                )
            await self._room()
        self._append(events, extra)
        return dropped

    async def _room(self) -> None:
        """Wait while the buffer is full and open. Its own function: a check of ``_closed`` narrowed
        before an ``await`` must not be trusted after it (a compiled build would)."""
        while self._full() and self._closed is None:
            self._writable = anyio.Event()
            await self._writable.wait()

    def _drop_market_data(self, batch: list[Event], extra: int) -> tuple[list[Event], int, list[Event]]:
        """Drop the oldest market data until ``batch`` (with ``extra`` bytes) fits; returns what is
        left of the batch, its extra bytes, and what was dropped.

        Control events passed over move to ``_kept``, so no later drop scans them again.
        """
        excess_events = len(self._kept) + len(self._events) + len(batch) - self._capacity
        excess_bytes = self.bytes + EVENT_BYTES * len(batch) + extra - self._max_bytes
        dropped: list[Event] = []
        events = self._events
        while (excess_events > 0 or excess_bytes > 0) and events:
            event = events.popleft()
            if type(event) in _MARKET_DATA:
                size = extra_bytes(event)
                self._extra -= size
                excess_bytes -= EVENT_BYTES + size
                excess_events -= 1
                dropped.append(event)
            else:
                self._kept.append(event)
        if excess_events <= 0 and excess_bytes <= 0:
            return batch, extra, dropped
        kept: list[Event] = []  # a single batch bigger than the whole buffer: its oldest market data go too
        for position, event in enumerate(batch):
            if excess_events <= 0 and excess_bytes <= 0:
                return kept + batch[position:], extra, dropped
            if type(event) in _MARKET_DATA:
                size = extra_bytes(event)
                extra -= size
                excess_bytes -= EVENT_BYTES + size
                excess_events -= 1
                dropped.append(event)
            else:
                kept.append(event)
        return kept, extra, dropped

    def notify_gap(self, notices: list[Event]) -> None:
        """Put notices about dropped events ahead of everything buffered, where the gap is.

        Unread ``EventsDropped`` notices merge into one and other notices are kept once per kind and
        symbol, so a long stall costs a handful of notices, not one per drop.
        """
        for notice in notices:
            last = self._front[0] if self._front else None
            if isinstance(notice, EventsDropped) and isinstance(last, EventsDropped):
                self._front[0] = EventsDropped(
                    exchange=notice.exchange,
                    count=last.count + notice.count,
                    total=notice.total,
                    ts_received=notice.ts_received,
                )
            elif isinstance(notice, EventsDropped):
                self._front.insert(0, notice)
            elif not any(
                type(n) is type(notice) and getattr(n, "symbol", None) == getattr(notice, "symbol", None)
                for n in self._front
            ):  # one unread notice per kind and symbol tells it all
                self._front.append(notice)
        self._wake_reader()

    def append_notices(self, events: list[Event]) -> None:
        """Append events regardless of the bounds: notices about the stream itself (drops, endings)."""
        self._append(events, batch_extra_bytes(events))

    def _append(self, events: list[Event], extra: int) -> None:
        if self._closed is not None or not events:
            return
        self._events.extend(events)
        self._extra += extra
        self._wake_reader()

    def _wake_reader(self) -> None:
        if self._readable is not None:
            self._readable.set()
            self._readable = None

    def _pop(self) -> Event:
        """The next event (one is buffered), its memory given back and the writer woken if it waits for room."""
        if self._front:
            return self._front.pop(0)
        event = self._kept.popleft() if self._kept else self._events.popleft()
        if type(event) is BOOK_UPDATE or type(event) is BOOK_SNAPSHOT:
            self._extra -= LEVEL_BYTES * (len(event.bids) + len(event.asks))
        elif type(event) not in _FIXED_SIZE:
            self._extra -= extra_bytes(event)
        if self._writable is not None:
            self._wake_writer()
        return event

    async def get(self) -> Event:
        """The next event, waiting for one; raises ``FeedClosed`` once closed and drained."""
        while not self._events and not self._kept and not self._front:
            await self._wait_readable()
        return self._pop()

    async def next_event(self) -> Event:
        """``get`` for an ``__anext__``: ``StopAsyncIteration`` once the buffer's user closed it and
        it is drained, ``FeedClosed`` (after every buffered event) when a policy ended it."""
        try:
            while not self._events and not self._kept and not self._front:
                await self._wait_readable()
        except FeedClosed as closed:
            if closed.failed:
                raise
            raise StopAsyncIteration from None
        return self._pop()

    async def get_batch(self) -> list[Event]:
        """Every buffered event (at least one), waiting if there is none."""
        while not self._events and not self._kept and not self._front:
            await self._wait_readable()
        batch = self._front + list(self._kept) + list(self._events)
        self._front = []
        self._kept.clear()
        self._events.clear()
        self._extra = 0
        self._wake_writer()
        return batch

    def close(self, reason: str = "feed closed", *, failed: bool = False, error: Exception | None = None) -> None:
        """End the stream: readers get what is buffered, then ``FeedClosed(reason)`` (or ``error`` itself)."""
        if self._closed is None:
            self._closed = error or FeedClosed(reason, failed=failed)
        for waiter in (self._readable, self._writable):
            if waiter is not None:
                waiter.set()
        self._readable = self._writable = None

    async def _wait_readable(self) -> None:
        if self._closed is not None:
            raise self._closed
        self._readable = anyio.Event()
        await self._readable.wait()

    def _wake_writer(self) -> None:
        if self._writable is not None and not self._full():
            self._writable.set()
            self._writable = None
