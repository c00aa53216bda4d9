"""One feed over several connections to one exchange, for more subscriptions than one connection holds.

Each connection is a whole ``Feed`` (its own session, books, liveness and reconnects), so when one
drops only the subscriptions it held are requested again. Their events are read into one stream by
``sdk.merge``'s machinery; the user sees the surface of a single ``Feed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import fields
from types import TracebackType
from typing import Any, Literal, Self

import anyio
import msgspec

from schemas.events import Disconnected, Event, Reconnected
from schemas.subscription import Subscription
from sdk.books import BookStats, BookView
from sdk.contract import Adapter
from sdk.deprecation import deprecated_alias
from sdk.errors import FeedClosed
from sdk.feed import Feed
from sdk.ledger import SubscriptionState
from sdk.merge import Merge
from sdk.recording import Recorder
from sdk.session import FeedSession, FeedStats

__all__ = ["ShardedFeed"]


class ShardedFeed:
    """A ``Feed`` whose subscriptions are spread over connections holding at most ``limit`` each.

    Subscriptions fill the open connections in order; when all are full, ``subscribe`` opens
    another (and raises ``ConnectFailed`` if it cannot). ``orderbook`` and ``state`` are answered by
    the connection that holds the subscription. Control events (``Disconnected``, ``Reconnected``,
    ``Subscribed``...) come from one connection each: a ``Disconnected`` means that connection
    (its ``connection`` number, an index into ``connections``) dropped, and its ``Reconnected`` is
    followed by the acknowledgements of its share alone.
    ``connections`` lists them in the order they were opened.

    ``options`` are those of ``Feed`` and apply to every connection; ``buffer_size`` also bounds
    the merged stream. Recording is per connection in ``Feed`` and is refused here.
    """

    def __init__(self, adapter: Adapter, url: str | None, limit: int, **options: Any) -> None:
        if limit < 1:
            raise ValueError(f"a connection holds at least one subscription, not {limit}")
        if options.get("record") is not None:
            raise ValueError("recording is per connection: record a feed of one connection")
        self.adapter = adapter
        self.url = url or adapter.default_url
        self.limit = limit
        self.connections: list[Feed] = []
        self.recorder: Recorder | None = None
        """Always None: see the class docstring."""
        self._options = options
        self._merge: Merge | None = None
        self._placed: dict[Subscription, Feed] = {}
        self._placing = anyio.Lock()
        self._stats = FeedStats()
        self._lifecycle: Literal["new", "open", "closed"] = "new"

    # -- what the connections know ------------------------------------------------------------

    @property
    def stats(self) -> FeedStats:
        """The counts of every connection added up (one object, refreshed on each read)."""
        for field in fields(FeedStats):
            if field.name != "callback_errors":  # counted here by the blocking face, not by the connections
                setattr(self._stats, field.name, sum(getattr(feed.stats, field.name) for feed in self.connections))
        return self._stats

    @property
    def book_stats(self) -> BookStats:
        """Checksum checks, failures and resyncs over every book of every connection."""
        each = [feed.book_stats for feed in self.connections]
        return BookStats(
            checks=sum(s.checks for s in each),
            failures=sum(s.failures for s in each),
            resyncs=sum(s.resyncs for s in each),
        )

    @property
    def subscriptions(self) -> list[Subscription]:
        """What the connections keep subscribed, connection by connection."""
        return [subscription for feed in self.connections for subscription in feed.subscriptions]

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        """As ``Feed.state``, from the connection that holds ``subscription``."""
        feed = self._placed.get(subscription)
        return None if feed is None else feed.state(subscription)

    def all_refused(self, subscriptions: Iterable[Subscription]) -> bool:
        """Whether the exchange refused every one of ``subscriptions``: none of them will stream."""
        return all(self.state(subscription) == "failed" for subscription in subscriptions)

    @property
    def connected(self) -> bool:
        """Whether every connection is up."""
        return bool(self.connections) and all(feed.connected for feed in self.connections)

    @property
    def buffered(self) -> int:
        """Events received and not yet read, in the merged stream and in each connection."""
        merged = self._merge.buffered if self._merge is not None else 0
        return merged + sum(feed.buffered for feed in self.connections)

    def orderbook(self, symbol: str, depth: int | None = None) -> BookView:
        """As ``Feed.orderbook``, from the connection that maintains the book."""
        return self._book_session(symbol, depth).orderbook(symbol, depth)

    book = deprecated_alias(orderbook, "ShardedFeed.book", "ShardedFeed.orderbook")

    def _book_session(self, symbol: str, depth: int | None) -> FeedSession:
        """The session of the one connection maintaining ``symbol`` (at ``depth``)."""
        holders: list[FeedSession] = []
        for feed in self.connections:
            try:
                feed.session.orderbook(symbol, depth)
            except KeyError:
                continue
            holders.append(feed.session)
        if not holders:
            raise KeyError(f"no book subscribed for {symbol!r}" + (f" at depth {depth}" if depth else ""))
        if len(holders) > 1:
            raise ValueError(f"{symbol} is maintained at several depths on several connections: pass depth=")
        return holders[0]

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Open the first connection; ``ConnectFailed`` if it cannot. Entered once, like a ``Feed``."""
        if self._lifecycle != "new":
            raise RuntimeError(f"this feed is {self._lifecycle}: a feed is entered once; make a new one")
        self._lifecycle = "open"
        first = self._new_connection()
        merge = Merge([NumberedConnection(first, 0)], buffer_size=self._options.get("buffer_size", 10_000))
        await merge.__aenter__()
        self.connections.append(first)
        self._merge = merge
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close every connection; an exception from the ``async with`` body propagates as itself."""
        self._lifecycle = "closed"
        if self._merge is not None:
            await self._merge.__aexit__(exc_type, exc, traceback)

    async def aclose(self) -> None:
        """End the feed and every connection: readers get what is buffered, then the iteration ends."""
        self._lifecycle = "closed"
        if self._merge is not None:
            await self._merge.aclose()

    def _new_connection(self) -> Feed:
        return Feed(self.adapter, self.url, **self._options)

    # -- subscriptions --------------------------------------------------------------------------

    async def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """As ``Feed.subscribe``: every request is checked first, then each new one goes to the first
        connection with room, a new connection when none has."""
        if self._lifecycle == "closed":
            raise FeedClosed("the feed is closed")
        for subscription in subscriptions:
            self.adapter.check(subscription)
        async with self._placing:
            shares: dict[int, list[Subscription]] = {}
            for subscription in dict.fromkeys(subscriptions):
                feed = self._placed.get(subscription)
                if feed is None or subscription not in feed.subscriptions:
                    feed = await self._connection_with_room(shares)
                    self._placed[subscription] = feed
                shares.setdefault(id(feed), []).append(subscription)
            for feed in self.connections:
                if share := shares.get(id(feed)):
                    await feed.subscribe(*share, verify=verify)

    async def _connection_with_room(self, shares: dict[int, list[Subscription]]) -> Feed:
        """The first connection holding fewer than ``limit`` once ``shares`` are placed; a new one if none."""
        for feed in self.connections:
            held = set(feed.subscriptions) | set(shares.get(id(feed), ()))
            if len(held) < self.limit:
                return feed
        if self._merge is None:
            raise RuntimeError("use the feed inside an 'async with' block")
        feed = self._new_connection()
        await self._merge.add(NumberedConnection(feed, len(self.connections)))
        self.connections.append(feed)
        return feed

    async def unsubscribe(self, *subscriptions: Subscription) -> None:
        """As ``Feed.unsubscribe``, on the connections that hold them; their room is given to later subscriptions."""
        if self._lifecycle == "closed":
            raise FeedClosed("the feed is closed")
        for feed in self.connections:
            share = [subscription for subscription in subscriptions if self._placed.get(subscription) is feed]
            if share:
                await feed.unsubscribe(*share)

    # -- consuming ------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    def __anext__(self) -> Awaitable[Event]:
        """The next event of any connection; ends as ``Feed`` iteration does."""
        return self._open_merge().__anext__()

    async def next_batch(self) -> list[Event]:
        """Every event buffered so far (at least one); raises ``FeedClosed`` at the end."""
        return await self._open_merge().next_batch()

    def _open_merge(self) -> Merge:
        if self._merge is None:
            raise RuntimeError("use the feed inside an 'async with' block")
        return self._merge


class NumberedConnection:
    """One connection of a sharded feed as the merge reads it: its ``Disconnected`` and
    ``Reconnected`` say which connection they are about."""

    def __init__(self, feed: Feed, number: int) -> None:
        self.feed = feed
        self.number = number

    async def __aenter__(self) -> Self:
        await self.feed.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.feed.__aexit__(exc_type, exc, traceback)

    async def aclose(self) -> None:
        await self.feed.aclose()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return self._numbered(await self.feed.__anext__())

    async def next_batch(self) -> list[Event]:
        return [self._numbered(event) for event in await self.feed.next_batch()]

    def _numbered(self, event: Event) -> Event:
        if type(event) is Disconnected or type(event) is Reconnected:
            return msgspec.structs.replace(event, connection=self.number)
        return event
