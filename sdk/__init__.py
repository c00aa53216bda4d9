"""xfeeds: exchange market data over WebSockets through one typed interface.

    async with sdk.connect("kraken-v1") as feed:
        await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD"))
        async for event in feed:
            ...

``connect_sync`` is the same feed for code that is not async.
"""

from __future__ import annotations

from typing import Any

from sdk import registry
from sdk.buffer import FeedClosed
from sdk.capabilities import Capabilities, UnsupportedSubscription
from sdk.contract import Adapter, Codec
from sdk.feed import Feed, FeedStats
from sdk.reconnect import ReconnectPolicy
from sdk.subscriptions import book, candles, instruments, quotes, ticker, trades
from sdk.sync import SyncFeed


def connect(exchange: str | Adapter, url: str | None = None, **options: Any) -> Feed:
    """An async feed for ``exchange`` (an adapter name or object); ``url`` overrides the endpoint.

    Keyword options are those of ``Feed`` (``reconnect``, ``buffer_size``, ``ping_interval``...).
    """
    adapter = registry.get(exchange) if isinstance(exchange, str) else exchange
    return Feed(adapter, url, **options)


def connect_sync(
    exchange: str | Adapter, url: str | None = None, *, backend: str = "asyncio", **options: Any
) -> SyncFeed:
    """A blocking feed for ``exchange``, run on a background event loop (``backend``)."""
    return SyncFeed(connect(exchange, url, **options), backend=backend)


__all__ = [
    "Adapter",
    "Capabilities",
    "Codec",
    "Feed",
    "FeedClosed",
    "FeedStats",
    "ReconnectPolicy",
    "SyncFeed",
    "UnsupportedSubscription",
    "book",
    "candles",
    "connect",
    "connect_sync",
    "instruments",
    "quotes",
    "ticker",
    "trades",
]
