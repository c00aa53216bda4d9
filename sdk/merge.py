"""Many event sources as one: feeds of several exchanges, replays, in receive order, with the
best bid and offer across their venues.

Each source is read by its own task in one task group and its batches go into one bounded buffer
as they come, so a slow consumer holds every reader back (and each feed then pushes back on its
venue) instead of growing memory. Events are passed on untouched: every control event
(``Disconnected``, ``Reconnected``, ``ErrorEvent``, ``Status``...) already names its ``exchange``,
so each source's own state stays apart in the one stream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Protocol, Self, runtime_checkable

import anyio
import anyio.abc

from schemas.events import (
    BookInvalidated,
    BookResynced,
    BookSnapshot,
    BookUpdate,
    ConsolidatedQuote,
    Disconnected,
    Event,
)
from schemas.subscription import Subscription
from sdk.books import BookView
from sdk.buffer import EventBuffer
from sdk.errors import FeedClosed, sole_error
from sdk.source import ClosedOnExit, EventSource
from sdk.sync import SyncSource

logger = logging.getLogger("xfeeds")

CONSOLIDATED = "consolidated"
"""The ``exchange`` of a ``ConsolidatedQuote``: it belongs to no one venue."""

Level = tuple[Decimal, Decimal]
VenueTop = tuple[str, Level | None, Level | None]
"""One venue's best bid and best ask (price, size), as of what the merged stream has delivered."""

_BOOK_CHANGES = (BookSnapshot, BookUpdate, BookInvalidated, BookResynced)


@runtime_checkable
class MaintainsBooks(Protocol):
    """A source that keeps its books (a ``Feed``): what a consolidated quote is read from."""

    def orderbook(self, symbol: str, depth: int | None = None) -> BookView: ...


@runtime_checkable
class Subscribes(Protocol):
    """A source that takes subscriptions (a ``Feed``)."""

    async def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None: ...


def consolidated_quote(symbol: str, tops: Iterable[VenueTop], ts_received: int) -> ConsolidatedQuote:
    """The best bid and ask across ``tops``; a tie goes to the venue listed first."""
    bid: tuple[str, Level] | None = None
    ask: tuple[str, Level] | None = None
    for venue, best_bid, best_ask in tops:
        if best_bid is not None and (bid is None or best_bid[0] > bid[1][0]):
            bid = (venue, best_bid)
        if best_ask is not None and (ask is None or best_ask[0] < ask[1][0]):
            ask = (venue, best_ask)
    return ConsolidatedQuote(
        exchange=CONSOLIDATED,
        symbol=symbol,
        bid=bid[1][0] if bid else None,
        bid_qty=bid[1][1] if bid else None,
        bid_venue=bid[0] if bid else None,
        ask=ask[1][0] if ask else None,
        ask_qty=ask[1][1] if ask else None,
        ask_venue=ask[0] if ask else None,
        crossed=bid is not None and ask is not None and bid[1][0] > ask[1][0],
        locked=bid is not None and ask is not None and bid[1][0] == ask[1][0],
        ts_received=ts_received,
    )


def _read_top(source: EventSource[Event], symbol: str, venue: str) -> VenueTop | None:
    """The top of ``source``'s maintained book of ``symbol`` now; None without a valid one."""
    if not isinstance(source, MaintainsBooks):
        return None
    try:
        view = source.orderbook(symbol)
    except (KeyError, ValueError):  # not subscribed, or at several depths: no one book to read
        return None
    return (venue, view.best_bid, view.best_ask) if view.valid else None


class Merge(ClosedOnExit):
    """Several event sources as one event source, in the order their events are received.

    The merge owns its sources: entering it enters each of them (subscribe a feed before or after;
    ``feed.subscribe`` works either way) and closing it closes them. A source that ends, closed or
    given up (its final ``Disconnected`` says so), leaves the others running; the merge ends when
    every source has ended, with ``FeedClosed(failed=True)`` if one of them was ended by a policy,
    or when its user closes it. An unexpected error of one source ends the merge and reaches the
    reader as itself.

    ``consolidate`` names symbols whose best bid and offer across venues is kept: after every
    batch of a source's book events for one of them, a ``ConsolidatedQuote`` follows if the best
    changed. Each venue's side is read from that source's maintained book (``orderbook``, which
    feeds have) right after the source handed over the batch, so a quote is the best of the books
    as of the events delivered before it. ``buffer_size`` bounds the events held for the consumer.
    """

    def __init__(
        self, sources: Sequence[EventSource[Event]], *, consolidate: Iterable[str] = (), buffer_size: int = 10_000
    ) -> None:
        if not sources:
            raise ValueError("merge needs at least one source")
        self.sources = list(sources)
        self.consolidate = list(dict.fromkeys(consolidate))
        self._buffer = EventBuffer(buffer_size, "wait")
        self._put_lock = anyio.Lock()  # the buffer takes one writer at a time; the lock queues the others fairly
        self._tops: list[dict[str, VenueTop | None]] = [{} for _ in self.sources]
        self._quotes: dict[str, ConsolidatedQuote] = {}
        self._running = len(self.sources)
        self._gave_up: list[str] = []
        self._failure: Exception | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        """Enter every source in order; one that fails to start closes those already started."""
        async with AsyncExitStack() as stack:
            for source in self.sources:
                await stack.enter_async_context(source)
            self._task_group = await stack.enter_async_context(anyio.create_task_group())
            for index, source in enumerate(self.sources):
                self._task_group.start_soon(self._read, index, source)
            self._stack = stack.pop_all()
        return self

    async def aclose(self) -> None:
        """End the merge and close every source: readers get what is buffered, then the iteration ends."""
        self._buffer.close("merge closed by the user")
        stack, self._stack = self._stack, None
        if stack is not None and self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await stack.aclose()  # the readers never raise, so nothing is wrapped in a group

    async def subscribe(self, source: EventSource[Event], *subscriptions: Subscription, verify: bool = True) -> None:
        """Subscribe one of the merged sources (a feed), as ``source.subscribe`` does."""
        if not any(source is merged for merged in self.sources):
            raise ValueError("not a source of this merge")
        if not isinstance(source, Subscribes):
            raise TypeError(f"a {type(source).__name__} takes no subscriptions")
        await source.subscribe(*subscriptions, verify=verify)

    async def add(self, source: EventSource[Event]) -> None:
        """Take one more source (not yet entered) into the open merge.

        It is entered, read and closed by a task of its own, so whichever task adds it (a blocking
        face's portal call, say) need not be the one that closes the merge. A failure to enter it
        (``ConnectFailed``) is raised here and leaves the merge as it was.
        """
        if self._task_group is None or self._stack is None:
            raise RuntimeError("sources are added to an open merge")
        index = len(self.sources)
        self.sources.append(source)
        self._tops.append({})
        self._running += 1
        try:
            await self._task_group.start(self._enter_and_read, index, source)
        except BaseException:
            del self.sources[index], self._tops[index]
            self._running -= 1
            raise

    @property
    def buffered(self) -> int:
        """Events merged and not yet read."""
        return len(self._buffer)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    def __anext__(self) -> Awaitable[Event]:
        """The next event; iteration ends when the user closes the merge or every source ended by itself."""
        return self._buffer.next_event()

    async def next_batch(self) -> list[Event]:
        """Every event merged and not yet read (at least one); ``FeedClosed`` at the end."""
        return await self._buffer.get_batch()

    async def _read(self, index: int, source: EventSource[Event]) -> None:
        """Pass one source's batches on until it ends; an unexpected error ends the merge."""
        try:
            while True:
                try:
                    batch = await source.next_batch()
                except FeedClosed as closed:
                    self._source_ended(closed)
                    return
                tops = self._read_tops(source, batch)  # before any wait: the books as of this batch
                async with self._put_lock:
                    await self._buffer.put(batch + self._changed_quotes(index, tops, batch[-1].ts_received))
        except Exception as group:
            error = sole_error(group)
            logger.error("merge stopped by an unexpected error of a source", exc_info=error)
            self._failure = error
            self._buffer.close(str(error), error=error)

    async def _enter_and_read(
        self, index: int, source: EventSource[Event], *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        """Enter an added source, read it until it ends, and close it however the reading ended."""
        await source.__aenter__()
        try:
            task_status.started()
            await self._read(index, source)
        finally:
            await source.aclose()  # not shielded: a source's own task group must close in the scope it opened in

    def _read_tops(self, source: EventSource[Event], batch: list[Event]) -> dict[str, VenueTop | None]:
        """The tops of the consolidated symbols whose books ``batch`` touched (all of them after a disconnect)."""
        if not self.consolidate:
            return {}
        touched: dict[str, str] = {}  # symbol: venue
        for event in batch:
            if isinstance(event, _BOOK_CHANGES) and event.symbol in self.consolidate:
                touched[event.symbol] = event.exchange
            elif isinstance(event, Disconnected):
                touched.update(dict.fromkeys(self.consolidate, event.exchange))
        return {symbol: _read_top(source, symbol, venue) for symbol, venue in touched.items()}

    def _changed_quotes(self, index: int, tops: dict[str, VenueTop | None], ts_received: int) -> list[Event]:
        """Record one source's new tops; the consolidated quotes they changed."""
        self._tops[index].update(tops)
        quotes: list[Event] = []
        for symbol in tops:
            venues = (top for source_tops in self._tops if (top := source_tops.get(symbol)) is not None)
            quote = consolidated_quote(symbol, venues, ts_received)
            last = self._quotes.get(symbol)
            if last is None or _best(last) != _best(quote):
                self._quotes[symbol] = quote
                quotes.append(quote)
        return quotes

    def _source_ended(self, closed: FeedClosed) -> None:
        self._running -= 1
        if closed.failed:
            self._gave_up.append(str(closed))
        if self._running == 0:
            if self._gave_up:
                self._buffer.close(f"every source has ended; given up: {'; '.join(self._gave_up)}", failed=True)
            else:
                self._buffer.close("every source has ended")


def _best(quote: ConsolidatedQuote) -> tuple[object, ...]:
    """What a consolidated quote says, without its time."""
    return (quote.bid, quote.bid_qty, quote.bid_venue, quote.ask, quote.ask_qty, quote.ask_venue)


def merge(*sources: EventSource[Event], consolidate: Iterable[str] = (), buffer_size: int = 10_000) -> Merge:
    """Event sources (feeds of several exchanges, replays) as one async event source; see ``Merge``."""
    return Merge(sources, consolidate=consolidate, buffer_size=buffer_size)


class SyncMerge(SyncSource[Merge, Event]):
    """A ``Merge`` driven from ordinary threads: its sources run on the background event loop."""

    @property
    def sources(self) -> list[EventSource[Event]]:
        return self._source.sources

    def subscribe(self, source: EventSource[Event], *subscriptions: Subscription, verify: bool = True) -> None:
        """As ``Merge.subscribe``, on the merge's event loop (inside the ``with`` block)."""
        self._await(lambda: self._source.subscribe(source, *subscriptions, verify=verify))


def merge_sync(
    *sources: EventSource[Event], consolidate: Iterable[str] = (), buffer_size: int = 10_000, backend: str = "asyncio"
) -> SyncMerge:
    """The blocking twin of ``merge``: give it async sources not yet entered (``sdk.connect(...)``,
    ``sdk.replay(...)``); they run on its background event loop (``backend``)."""
    return SyncMerge(merge(*sources, consolidate=consolidate, buffer_size=buffer_size), backend=backend)
