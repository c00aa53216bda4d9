"""The blocking face of a feed, for code that is not async.

It runs the very same ``Feed`` on an event loop in a background thread (anyio's blocking portal)
and crosses threads once per batch of events, not once per event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Self

from anyio.from_thread import BlockingPortal, start_blocking_portal

from schemas.events import Event
from schemas.subscription import Subscription
from sdk.books import BookStats, BookTop
from sdk.buffer import FeedClosed
from sdk.feed import Feed, FeedStats

logger = logging.getLogger("xfeeds")


class SyncFeed:
    """A ``Feed`` driven from ordinary threads; use as a context manager.

    Iterate it (``for event in feed``) for a blocking loop, or call ``on_event(callback)`` to have
    events delivered on the feed's background thread while the calling thread does other work.
    """

    def __init__(self, feed: Feed, *, backend: str = "asyncio") -> None:
        self._feed = feed
        self._backend = backend
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._delivery: Future[None] | None = None

    @property
    def stats(self) -> FeedStats:
        return self._feed.stats

    @property
    def subscriptions(self) -> list[Subscription]:
        return self._feed.subscriptions

    @property
    def book_stats(self) -> BookStats:
        return self._feed.book_stats

    def book(self, symbol: str, levels: int = 10) -> BookTop:
        """A copy of ``symbol``'s maintained book, taken on the feed's thread so it is consistent."""
        return self._require_portal().call(lambda: self._feed.book(symbol).top(levels))

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            portal = stack.enter_context(start_blocking_portal(self._backend))
            feed_context: AbstractContextManager[Feed] = portal.wrap_async_context_manager(self._feed)
            stack.enter_context(feed_context)
            self._portal = portal
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop delivery, close the connection and the background event loop."""
        if self._delivery is not None:
            self._delivery.cancel()
        self._stack.close()
        self._portal = None

    def subscribe(self, *subscriptions: Subscription) -> None:
        """As ``Feed.subscribe``: checked up front, acks arrive as events."""
        self._require_portal().call(self._feed.subscribe, *subscriptions)

    def unsubscribe(self, *subscriptions: Subscription) -> None:
        self._require_portal().call(self._feed.unsubscribe, *subscriptions)

    def __iter__(self) -> Iterator[Event]:
        portal = self._require_portal()
        while True:
            try:
                batch = portal.call(self._feed.next_batch)
            except FeedClosed as closed:
                if closed.failed:  # ended by a policy, not by the user: say so
                    raise
                return
            yield from batch

    def on_event(self, callback: Callable[[Event], object]) -> Future[None]:
        """Deliver every event to ``callback`` on the feed's background thread.

        Returns at once. The callback runs on the event loop's thread, so a slow callback holds
        up reading (the buffer and TCP then push back). An exception it raises is logged and
        counted in ``stats.callback_errors``; delivery goes on.
        """
        if self._delivery is not None:
            raise RuntimeError("events are already being delivered to a callback")
        self._delivery = self._require_portal().start_task_soon(self._deliver, callback)
        return self._delivery

    async def _deliver(self, callback: Callable[[Event], object]) -> None:
        while True:
            try:
                batch = await self._feed.next_batch()
            except FeedClosed:
                return
            for event in batch:
                try:
                    callback(event)
                except Exception:
                    self._feed.stats.callback_errors += 1
                    logger.exception("event callback raised on %r", event)

    def _require_portal(self) -> BlockingPortal:
        if self._portal is None:
            raise RuntimeError("use the feed inside a 'with' block")
        return self._portal
