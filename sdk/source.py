"""The one shape every stream of events has: a live feed today, replays and readers tomorrow.

Consumers (user code, the sync face, the terminal view) depend on this protocol only, so any
source of events plugs into all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

import anyio

from sdk.errors import FeedClosed

E = TypeVar("E")


class EventSource(Protocol[E]):
    """An async context manager yielding events, one by one or in batches: market ``Event``s
    from a feed, ``TradingEvent``s from an account.

    Iteration ends when the source is closed by its user; ``FeedClosed(failed=True)`` is raised
    (after every buffered event) when a policy ended it; an unexpected error surfaces as itself.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[E]: ...

    async def next_batch(self) -> list[E]:
        """Every event available now (at least one, waiting for it); ``FeedClosed`` at the end."""
        ...

    async def aclose(self) -> None: ...


class ClosedOnExit:
    """``async with`` that ends in ``aclose``, then raises the failure of the object's own tasks (kept
    in ``_failure``) unless the body raised: an error of a background task is never left unseen."""

    _failure: Exception | None = None

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
        if exc is None and self._failure is not None:
            raise self._failure


class EventList(ClosedOnExit, Generic[E]):
    """Events a program already holds, as an event source: ``batch`` at a time, ``pause`` seconds
    apart. Feeds a publisher, a merge or a renderer from memory (tests, benchmarks, backfills)."""

    def __init__(self, events: Sequence[E], *, batch: int = 100, pause: float = 0.0) -> None:
        if batch < 1 or pause < 0:
            raise ValueError("batch must be positive and pause not negative")
        self._events = events
        self._batch = batch
        self._pause = pause
        self._position = 0
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def aclose(self) -> None:
        self._closed = True

    async def __aiter__(self) -> AsyncIterator[E]:
        while True:
            try:
                batch = await self.next_batch()
            except FeedClosed:
                return
            for event in batch:
                yield event

    async def next_batch(self) -> list[E]:
        """The next ``batch`` events; ``FeedClosed`` once every one was handed out or on closing."""
        if self._closed or self._position >= len(self._events):
            raise FeedClosed("closed by the user" if self._closed else "every event handed out")
        if self._pause and self._position:
            await anyio.sleep(self._pause)
        batch = list(self._events[self._position : self._position + self._batch])
        self._position += len(batch)
        return batch
