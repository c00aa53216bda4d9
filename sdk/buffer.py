"""The bounded hand-off between a feed's connection task and its consumer.

A memory-object stream costs several microseconds per item, more than decoding a frame, so the
reader hands over each network read's events as one batch and the consumer pops them from a
deque without any further task switch. What happens when the consumer falls behind and the buffer
holds ``capacity`` events is the feed's ``Overflow`` policy: the reader waits (TCP then pushes back
on the exchange), the oldest events are dropped, or the feed fails.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import anyio

from schemas.events import Event, EventsDropped
from sdk.errors import FeedClosed

Overflow = Literal["wait", "drop_oldest", "fail"]


class BufferOverflow(Exception):
    """The buffer is full and the policy is ``fail``."""


class EventBuffer:
    """Single-producer, single-consumer event queue with batch puts and a capacity."""

    def __init__(self, capacity: int, overflow: Overflow = "wait") -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if overflow not in ("wait", "drop_oldest", "fail"):
            raise ValueError(f"overflow policy must be wait, drop_oldest or fail, not {overflow!r}")
        self._events: deque[Event] = deque()
        self._front: list[Event] = []
        """Notices about a drop: the gap is at the head of the buffer, so they are read first."""
        self._capacity = capacity
        self._overflow = overflow
        self._readable: anyio.Event | None = None
        self._writable: anyio.Event | None = None
        self._closed: Exception | None = None
        """What a reader gets once everything buffered is read: ``FeedClosed``, or the error that ended the feed."""

    def __len__(self) -> int:
        return len(self._front) + len(self._events)

    @property
    def will_wait(self) -> bool:
        """Whether the next ``put`` waits for the consumer (the ``wait`` policy, at capacity)."""
        return self._overflow == "wait" and len(self._events) >= self._capacity and self._closed is None

    async def put(self, events: list[Event]) -> list[Event]:
        """Append a batch; returns the events the ``drop_oldest`` policy discarded to make room.

        With ``wait`` it first waits while the buffer is at capacity; with ``fail`` a full buffer
        raises ``BufferOverflow``.
        """
        dropped: list[Event] = []
        if len(self._events) >= self._capacity and self._closed is None:
            if self._overflow == "fail":
                raise BufferOverflow(f"the consumer fell {len(self._events)} events behind")
            if self._overflow == "wait":
                while len(self._events) >= self._capacity and self._closed is None:
                    self._writable = anyio.Event()
                    await self._writable.wait()
        if self._overflow == "drop_oldest":
            excess = len(self._events) + len(events) - self._capacity
            if excess > 0:
                from_buffer = min(excess, len(self._events))
                dropped = [self._events.popleft() for _ in range(from_buffer)]
                from_batch = excess - from_buffer
                if from_batch:  # a single batch bigger than the whole buffer: its oldest go too
                    dropped += events[:from_batch]
                    events = events[from_batch:]
        self.append_notices(events)
        return dropped

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
        """Append events regardless of capacity: notices about the stream itself (drops, endings)."""
        if self._closed is not None or not events:
            return
        self._events.extend(events)
        self._wake_reader()

    def _wake_reader(self) -> None:
        if self._readable is not None:
            self._readable.set()
            self._readable = None

    async def get(self) -> Event:
        """The next event, waiting for one; raises ``FeedClosed`` once closed and drained."""
        while not self._events and not self._front:
            await self._wait_readable()
        if self._front:
            return self._front.pop(0)
        event = self._events.popleft()
        self._wake_writer()
        return event

    async def get_batch(self) -> list[Event]:
        """Every buffered event (at least one), waiting if there is none."""
        while not self._events and not self._front:
            await self._wait_readable()
        batch = self._front + list(self._events)
        self._front = []
        self._events.clear()
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
        if self._writable is not None and len(self._events) < self._capacity:
            self._writable.set()
            self._writable = None
