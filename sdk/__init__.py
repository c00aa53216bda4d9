"""xfeeds: exchange market data over WebSockets through one typed interface.

    async with sdk.connect("kraken-v1") as feed:
        await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD"))
        async for event in feed:
            ...

``connect_sync`` is the same feed for code that is not async.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

from sdk import registry
from sdk.books import BookTop, BookView
from sdk.buffer import Overflow
from sdk.capabilities import Capabilities, UnsupportedSubscription
from sdk.connection import Connection, Connector, WebSocketConnector
from sdk.contract import Adapter, Codec
from sdk.credentials import Credentials
from sdk.errors import ConnectFailed, FeedClosed, PreTradeRefused, RateLimited
from sdk.feed import Feed
from sdk.pretrade import check_order
from sdk.ratelimit import CostTable, RateTier, TradingRateCounter, TransactionCost
from sdk.reconnect import ReconnectPolicy
from sdk.session import FeedSession, FeedSettings, FeedStats
from sdk.source import EventSource
from sdk.subscriptions import book, candles, instruments, quotes, ticker, trades
from sdk.sync import SyncFeed, SyncSource


class FeedOptions(TypedDict, total=False):
    """The keyword options of ``Feed`` (see its docstring), so a misspelt one fails type checking."""

    connector: Connector
    reconnect: ReconnectPolicy
    buffer_size: int
    buffer_bytes: int
    overflow: Overflow
    ping_interval: float
    idle_timeout: float
    ack_timeout: float
    stale_after: float
    max_message: int
    resync_interval: float
    allow_plaintext: bool
    seed: int


def connect(exchange: str | Adapter, url: str | None = None, **options: Unpack[FeedOptions]) -> Feed:
    """An async feed for ``exchange`` (an adapter name or object); ``url`` overrides the endpoint."""
    adapter = registry.get(exchange) if isinstance(exchange, str) else exchange
    return Feed(adapter, url, **options)


def connect_sync(
    exchange: str | Adapter, url: str | None = None, *, backend: str = "asyncio", **options: Unpack[FeedOptions]
) -> SyncFeed:
    """A blocking feed for ``exchange``, run on a background event loop (``backend``)."""
    return SyncFeed(connect(exchange, url, **options), backend=backend)


__all__ = [
    "Adapter",
    "BookTop",
    "BookView",
    "Capabilities",
    "Codec",
    "ConnectFailed",
    "Connection",
    "Connector",
    "CostTable",
    "Credentials",
    "EventSource",
    "Feed",
    "FeedClosed",
    "FeedOptions",
    "FeedSession",
    "FeedSettings",
    "FeedStats",
    "PreTradeRefused",
    "RateLimited",
    "RateTier",
    "ReconnectPolicy",
    "SyncFeed",
    "SyncSource",
    "TradingRateCounter",
    "TransactionCost",
    "UnsupportedSubscription",
    "WebSocketConnector",
    "book",
    "candles",
    "check_order",
    "connect",
    "connect_sync",
    "instruments",
    "quotes",
    "ticker",
    "trades",
]
