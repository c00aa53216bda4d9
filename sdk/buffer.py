"""The bounded hand-off between a feed's connection task and its consumer.

A memory-object stream costs several microseconds per item, more than decoding a frame, so the
reader hands over each network read's events as one batch and the consumer pops them from a
deque without any further task switch. When the buffer holds ``capacity`` events the reader
waits, so TCP pushes back on the exchange instead of memory growing.
"""

from __future__ import annotations

from collections import deque

import anyio

from schemas.events import Event


class FeedClosed(Exception):
    """The feed has ended; the message says why."""


class EventBuffer:
    """Single-producer, single-consumer event queue with batch puts and a capacity."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._events: deque[Event] = deque()
        self._capacity = capacity
        self._readable: anyio.Event | None = None
        self._writable: anyio.Event | None = None
        self._closed: FeedClosed | None = None

    def __len__(self) -> int:
        return len(self._events)

    async def put(self, events: list[Event]) -> None:
        """Append a batch, first waiting while the buffer is at capacity."""
        while len(self._events) >= self._capacity and self._closed is None:
            self._writable = anyio.Event()
            await self._writable.wait()
        if self._closed is not None or not events:
            return
        self._events.extend(events)
        if self._readable is not None:
            self._readable.set()
            self._readable = None

    async def get(self) -> Event:
        """The next event, waiting for one; raises ``FeedClosed`` once closed and drained."""
        while not self._events:
            await self._wait_readable()
        event = self._events.popleft()
        self._wake_writer()
        return event

    async def get_batch(self) -> list[Event]:
        """Every buffered event (at least one), waiting if there is none."""
        while not self._events:
            await self._wait_readable()
        batch = list(self._events)
        self._events.clear()
        self._wake_writer()
        return batch

    def close(self, reason: str = "feed closed") -> None:
        """End the stream: readers get what is buffered, then ``FeedClosed(reason)``."""
        if self._closed is None:
            self._closed = FeedClosed(reason)
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
