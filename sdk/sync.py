"""The blocking face, for code that is not async.

It runs the very same async source (a ``Feed``, an ``Account``, or any ``EventSource``) on an event loop in a
background thread (anyio's blocking portal) and crosses threads once per batch of events, not once
per event. ``SyncFeed`` has the surface of ``Feed`` and ``SyncAccount`` that of ``Account``, method for
method; a test keeps them equal.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, ExitStack
from decimal import Decimal
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from schemas.events import Event, Instrument
from schemas.subscription import Subscription
from schemas.trading import Balance, OrderRequest, OrderUpdate
from sdk.account import Account
from sdk.account_session import AccountEvent, AccountState, AccountStats
from sdk.books import BookStats, BookView
from sdk.contract import Adapter
from sdk.deprecation import deprecated_alias
from sdk.errors import FeedClosed
from sdk.ledger import SubscriptionState
from sdk.recording import Recorder
from sdk.session import FeedStats
from sdk.source import EventSource

if TYPE_CHECKING:  # a sharded feed is made of merged feeds, and merging imports this module
    from sdk.feed import Feed  # noqa: F401
    from sdk.sharded import ShardedFeed  # noqa: F401

logger = logging.getLogger("xfeeds")

S = TypeVar("S", bound=EventSource[Any])
E = TypeVar("E")
T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


async def _awaited(call: Callable[[], Awaitable[T]]) -> T:
    return await call()


class ReadOnPortal:
    """Runs book reads on the feed's thread, so the sync face's book views are consistent."""

    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal

    def __call__(self, read: Callable[[], T]) -> T:
        return self._portal.call(read)


class SyncSource(Generic[S, E]):
    """Any ``EventSource`` driven from ordinary threads; use as a context manager.

    Iterate it (``for event in source``) for a blocking loop, or call ``on_event(callback)`` to have
    events delivered on the background thread while the calling thread does other work. Leaving a
    ``for`` loop early loses nothing: the next loop goes on where it stopped.
    """

    def __init__(self, source: S, *, backend: str = "asyncio") -> None:
        self._source = source
        self._backend = backend
        self._stack = ExitStack()
        self._portal: BlockingPortal | None = None
        self._delivery: Future[None] | None = None
        self._unread: deque[E] = deque()

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            portal = stack.enter_context(start_blocking_portal(self._backend))
            source: AbstractAsyncContextManager[object] = self._source
            stack.enter_context(portal.wrap_async_context_manager(source))
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
        """Stop delivery, close the source and the background event loop."""
        if self._delivery is not None:
            self._delivery.cancel()
        stack, self._stack = self._stack, ExitStack()
        self._portal = None
        stack.close()

    def __iter__(self) -> Iterator[E]:
        while True:
            while self._unread:
                yield self._unread.popleft()
            try:
                self._unread.extend(self._await(self._source.next_batch))
            except FeedClosed as closed:
                if closed.failed:  # ended by a policy, not by the user: say so
                    raise
                return

    def next_batch(self) -> list[E]:
        """Every event available now (at least one, blocking for it); ``FeedClosed`` at the end."""
        if self._unread:
            batch = list(self._unread)
            self._unread.clear()
            return batch
        return self._await(self._source.next_batch)

    def on_event(self, callback: Callable[[E], object]) -> Future[None]:
        """Deliver every event to ``callback`` on the background thread.

        Returns at once. The callback runs on the event loop's thread, so a slow callback holds
        up reading (the buffer and TCP then push back). An exception it raises is logged and
        counted; delivery goes on.
        """
        if self._delivery is not None:
            raise RuntimeError("events are already being delivered to a callback")
        self._delivery = self._require_portal().start_task_soon(self._deliver, callback)
        return self._delivery

    async def _deliver(self, callback: Callable[[E], object]) -> None:
        unread, self._unread = list(self._unread), deque()
        while True:
            for event in unread:
                try:
                    callback(event)
                except Exception:
                    self._callback_failed()
                    logger.exception("event callback raised on %r", event)
            try:
                unread = await self._source.next_batch()
            except FeedClosed:
                return

    def _callback_failed(self) -> None:
        """Where a callback's exception is counted."""

    def _await(self, call: Callable[[], Awaitable[T]]) -> T:
        """Await ``call()`` on the event loop's thread and return its result (or raise its error)."""
        return self._require_portal().call(_awaited, call)

    def _on_loop(self, read: Callable[[], T]) -> T:
        """Run ``read`` on the event loop's thread, where the source's state is written."""
        return self._require_portal().call(read)

    def _require_portal(self) -> BlockingPortal:
        if self._portal is None:
            raise RuntimeError("use the feed inside a 'with' block")
        return self._portal


class SyncFeed(SyncSource["Feed | ShardedFeed", Event]):
    """A ``Feed`` or ``ShardedFeed`` driven from ordinary threads: the same methods, blocking instead of awaiting."""

    @property
    def adapter(self) -> Adapter:
        return self._source.adapter

    @property
    def url(self) -> str:
        return self._source.url

    @property
    def stats(self) -> FeedStats:
        return self._source.stats

    @property
    def book_stats(self) -> BookStats:
        return self._source.book_stats

    @property
    def connected(self) -> bool:
        return self._source.connected

    @property
    def recorder(self) -> Recorder | None:
        """As ``Feed.recorder``: its counters are safe to read from any thread."""
        return self._source.recorder

    @property
    def buffered(self) -> int:
        """As ``Feed.buffered``, plus events fetched by a loop that stopped early."""
        return self._source.buffered + len(self._unread)

    @property
    def subscriptions(self) -> list[Subscription]:
        """What the feed keeps subscribed (read on the feed's thread)."""
        if self._portal is None:
            return self._source.subscriptions
        return self._on_loop(lambda: self._source.subscriptions)

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        """As ``Feed.state``."""
        return self._source.state(subscription)

    def all_refused(self, subscriptions: Iterable[Subscription]) -> bool:
        """As ``Feed.all_refused``."""
        return self._source.all_refused(subscriptions)

    def orderbook(self, symbol: str, depth: int | None = None) -> BookView:
        """As ``Feed.orderbook``: the same view type, each read taken on the feed's thread so it is consistent."""
        portal = self._require_portal()
        session = portal.call(lambda: self._source._book_session(symbol, depth))
        return session.orderbook(symbol, depth, ReadOnPortal(portal))

    book = deprecated_alias(orderbook, "SyncFeed.book", "SyncFeed.orderbook")

    def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """As ``Feed.subscribe``: checked up front, acks arrive as events."""
        self._await(lambda: self._source.subscribe(*subscriptions, verify=verify))

    def unsubscribe(self, *subscriptions: Subscription) -> None:
        """As ``Feed.unsubscribe``."""
        self._await(lambda: self._source.unsubscribe(*subscriptions))

    def _callback_failed(self) -> None:
        self._source.stats.callback_errors += 1


class SyncAccount(SyncSource[Account, AccountEvent]):
    """An ``Account`` driven from ordinary threads: the same methods, blocking instead of awaiting.

    The views (``open_orders``, ``balances``, ``instruments``) are copies taken on the account's
    thread, so each is consistent in itself.
    """

    @property
    def adapter(self) -> Adapter:
        return self._source.adapter

    @property
    def url(self) -> str:
        return self._source.url

    @property
    def rest_url(self) -> str:
        return self._source.rest_url

    @property
    def state(self) -> AccountState:
        return self._source.state

    @property
    def stats(self) -> AccountStats:
        return self._source.stats

    @property
    def open_orders(self) -> Mapping[str, OrderUpdate]:
        return self._copied(lambda: self._source.open_orders)

    @property
    def balances(self) -> Mapping[tuple[str, str | None], Balance]:
        return self._copied(lambda: self._source.balances)

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._copied(lambda: self._source.instruments)

    def place(self, order: OrderRequest) -> OrderUpdate:
        """As ``Account.place``."""
        return self._await(lambda: self._source.place(order))

    def place_batch(self, orders: Sequence[OrderRequest]) -> list[OrderUpdate]:
        """As ``Account.place_batch``."""
        return self._await(lambda: self._source.place_batch(orders))

    def amend(
        self,
        *,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """As ``Account.amend``."""
        self._await(
            lambda: self._source.amend(
                venue_order_id=venue_order_id,
                client_order_id=client_order_id,
                qty=qty,
                price=price,
                stop_price=stop_price,
            )
        )

    def cancel(self, *venue_order_ids: str, client_order_ids: tuple[str, ...] = ()) -> None:
        """As ``Account.cancel``."""
        self._await(lambda: self._source.cancel(*venue_order_ids, client_order_ids=client_order_ids))

    def cancel_all(self) -> int:
        """As ``Account.cancel_all``."""
        return self._await(self._source.cancel_all)

    def cancel_all_after(self, timeout_s: int) -> int | None:
        """As ``Account.cancel_all_after``."""
        return self._await(lambda: self._source.cancel_all_after(timeout_s))

    def orderbook(self, symbol: str, depth: int | None = None) -> BookView:
        """As ``Account.orderbook``: each read taken on the account's thread so it is consistent."""
        return self._source.session.orderbook(symbol, depth, ReadOnPortal(self._require_portal()))

    def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """As ``Account.subscribe``."""
        self._await(lambda: self._source.subscribe(*subscriptions, verify=verify))

    def unsubscribe(self, *subscriptions: Subscription) -> None:
        """As ``Account.unsubscribe``."""
        self._await(lambda: self._source.unsubscribe(*subscriptions))

    def _copied(self, read: Callable[[], Mapping[K, V]]) -> Mapping[K, V]:
        if self._portal is None:
            return MappingProxyType(dict(read()))
        return MappingProxyType(self._on_loop(lambda: dict(read())))
