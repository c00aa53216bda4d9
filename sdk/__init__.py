"""xfeeds: exchange market data over WebSockets through one typed interface.

    async with sdk.connect("kraken-v1") as feed:
        await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD"))
        async for event in feed:
            ...

``connect_sync`` is the same feed for code that is not async. Trading goes through an account:

    async with sdk.account("kraken", sdk.Credentials.from_env("XFEEDS_KRAKEN")) as account:
        update = await account.place(OrderRequest(symbol="BTC/USD", side="buy", ...))

``account_sync`` is its blocking twin. ``connect(..., record=DIR)`` records a feed and
``replay(DIR)`` gives its events again, through the same decoders, books and checksums.
``connect(..., subscriptions_per_connection=N)`` spreads a feed's subscriptions over connections
of at most N each (``ShardedFeed``), each reconnecting on its own.
``merge(feed_a, feed_b, consolidate=["BTC/USD"])`` reads several sources as one stream, with the
best bid and offer across their venues (``ConsolidatedQuote``).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, TypedDict, Unpack

from schemas.events import ConsolidatedQuote
from sdk import registry
from sdk.account import Account
from sdk.account_session import AccountEvent, AccountState, AccountStats
from sdk.books import BookTop, BookView
from sdk.buffer import Overflow
from sdk.capabilities import Capabilities, UnsupportedSubscription
from sdk.connection import Connection, Connector, DefaultConnector, WebSocketConnector
from sdk.contract import Adapter, Codec
from sdk.credentials import Credentials
from sdk.errors import (
    AccountNotReady,
    ConnectFailed,
    FeedClosed,
    LoginRefused,
    OutcomeUnknown,
    PreTradeRefused,
    RateLimited,
    RequestRejected,
)
from sdk.feed import Feed
from sdk.identity import event_key
from sdk.merge import Merge, SyncMerge, merge, merge_sync
from sdk.pretrade import check_order
from sdk.ratelimit import CostTable, RateTier, TradingRateCounter, TransactionCost
from sdk.reconnect import ReconnectPolicy
from sdk.recording import Recorder, Rotation
from sdk.replay import Replay, replay, replay_sync
from sdk.session import FeedSession, FeedSettings, FeedStats
from sdk.sharded import ShardedFeed
from sdk.source import EventList, EventSource
from sdk.subscriptions import book, candles, instruments, quotes, ticker, trades
from sdk.sync import SyncAccount, SyncFeed, SyncSource
from sdk.trading_contract import TokenRequestFailed

if TYPE_CHECKING:
    from sdk.fanout.publish import Publisher, PublisherStats, PublishOptions, SyncPublisher, publish, publish_sync
    from sdk.fanout.reader import StreamOptions, StreamReader, SyncStreamReader, stream, stream_sync

_FANOUT = dict.fromkeys(
    ("Publisher", "PublisherStats", "PublishOptions", "SyncPublisher", "publish", "publish_sync"), "sdk.fanout.publish"
) | dict.fromkeys(("StreamOptions", "StreamReader", "SyncStreamReader", "stream", "stream_sync"), "sdk.fanout.reader")
"""Names of the Redis Streams fan-out, imported on first use: redis-py is an optional extra."""


def __getattr__(name: str) -> object:
    module = _FANOUT.get(name)
    if module is None:
        raise AttributeError(f"module 'sdk' has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as missing:
        if missing.name != "redis":
            raise
        raise ModuleNotFoundError(f"sdk.{name} needs redis-py: pip install 'xfeeds[redis]'", name="redis") from missing


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
    record: Recorder | str | os.PathLike[str]


class AccountOptions(TypedDict, total=False):
    """The keyword options of ``Account`` (see its docstring), so a misspelt one fails type checking."""

    connector: Connector
    reconnect: ReconnectPolicy
    reply_timeout: float
    ready_timeout: float
    lookup_retry: float
    buffer_size: int
    rate_tier: RateTier


def account(
    exchange: str | Adapter,
    credentials: Credentials,
    url: str | None = None,
    rest_url: str | None = None,
    **options: Unpack[AccountOptions],
) -> Account:
    """An async trading account on ``exchange``; ``url`` overrides the authenticated WebSocket
    endpoint, ``rest_url`` the REST base its session tokens come from."""
    adapter = registry.get(exchange) if isinstance(exchange, str) else exchange
    return Account(adapter, credentials, url, rest_url, **options)


def account_sync(
    exchange: str | Adapter,
    credentials: Credentials,
    url: str | None = None,
    rest_url: str | None = None,
    *,
    backend: str = "asyncio",
    **options: Unpack[AccountOptions],
) -> SyncAccount:
    """A blocking trading account on ``exchange``, run on a background event loop (``backend``)."""
    return SyncAccount(account(exchange, credentials, url, rest_url, **options), backend=backend)


def connect(
    exchange: str | Adapter,
    url: str | None = None,
    *,
    subscriptions_per_connection: int | None = None,
    **options: Unpack[FeedOptions],
) -> Feed | ShardedFeed:
    """An async feed for ``exchange`` (an adapter name or object); ``url`` overrides the endpoint.

    Where a limit on subscriptions per connection applies (``subscriptions_per_connection``, or
    the one the adapter declares), the feed is a ``ShardedFeed`` spreading them over connections.
    """
    adapter = registry.get(exchange) if isinstance(exchange, str) else exchange
    limit = subscriptions_per_connection or adapter.subscriptions_per_connection
    if limit is not None:
        return ShardedFeed(adapter, url, limit, **options)
    return Feed(adapter, url, **options)


def connect_sync(
    exchange: str | Adapter,
    url: str | None = None,
    *,
    backend: str = "asyncio",
    subscriptions_per_connection: int | None = None,
    **options: Unpack[FeedOptions],
) -> SyncFeed:
    """A blocking feed for ``exchange``, run on a background event loop (``backend``)."""
    feed = connect(exchange, url, subscriptions_per_connection=subscriptions_per_connection, **options)
    return SyncFeed(feed, backend=backend)


__all__ = [
    "Account",
    "AccountEvent",
    "AccountNotReady",
    "AccountOptions",
    "AccountState",
    "AccountStats",
    "Adapter",
    "BookTop",
    "BookView",
    "Capabilities",
    "Codec",
    "ConnectFailed",
    "Connection",
    "Connector",
    "ConsolidatedQuote",
    "CostTable",
    "Credentials",
    "DefaultConnector",
    "EventList",
    "EventSource",
    "Feed",
    "FeedClosed",
    "FeedOptions",
    "FeedSession",
    "FeedSettings",
    "FeedStats",
    "LoginRefused",
    "Merge",
    "OutcomeUnknown",
    "PreTradeRefused",
    "PublishOptions",
    "Publisher",
    "PublisherStats",
    "RateLimited",
    "RateTier",
    "ReconnectPolicy",
    "Recorder",
    "Replay",
    "RequestRejected",
    "Rotation",
    "ShardedFeed",
    "StreamOptions",
    "StreamReader",
    "SyncAccount",
    "SyncFeed",
    "SyncMerge",
    "SyncPublisher",
    "SyncSource",
    "SyncStreamReader",
    "TokenRequestFailed",
    "TradingRateCounter",
    "TransactionCost",
    "UnsupportedSubscription",
    "WebSocketConnector",
    "account",
    "account_sync",
    "book",
    "candles",
    "check_order",
    "connect",
    "connect_sync",
    "event_key",
    "instruments",
    "merge",
    "merge_sync",
    "publish",
    "publish_sync",
    "quotes",
    "replay",
    "replay_sync",
    "stream",
    "stream_sync",
    "ticker",
    "trades",
]
