"""The fleet file: what a deployment of collectors subscribes to, and how it is split into shards.

    redis = "redis://127.0.0.1:6379/0"
    prefix = "xfeeds"
    shards = 2

    [[feed]]
    exchange = "kraken"
    subscriptions_per_connection = 50      # optional; url = "wss://..." too

    [[feed.subscribe]]
    channel = "book"
    symbols = ["BTC/USD", "ETH/USD"]
    depth = 10

The split is a pure function of the file: every subscription is sorted by what it is (exchange,
endpoint, channel, symbol, options) and the sorted list is cut into ``shards`` runs whose lengths
differ by one at most. So two machines reading the same file run the same shards and publish the
same event keys (their copies are stored once), and neighbouring subscriptions of one exchange
share a shard, hence a few connections.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path

import msgspec

from schemas.subscription import Subscription
from sdk import registry, subscriptions
from sdk.credentials import shown_url


class FleetError(ValueError):
    """A fleet file that cannot be run; the message names the file, where in it, and what is wrong."""


class _SubscribeEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    channel: str
    symbols: list[str] = []
    depth: int | None = None
    interval: str | None = None


class _FeedEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    exchange: str
    subscribe: list[_SubscribeEntry]
    url: str | None = None
    subscriptions_per_connection: int | None = None


class _FleetEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    redis: str
    feed: list[_FeedEntry]
    prefix: str = "xfeeds"
    shards: int = 1


class FeedShare(msgspec.Struct, frozen=True, kw_only=True):
    """The part of one ``[[feed]]`` a shard runs: one (possibly sharded) connection's worth."""

    exchange: str
    url: str | None
    subscriptions_per_connection: int | None
    subscriptions: tuple[Subscription, ...]


class Shard(msgspec.Struct, frozen=True, kw_only=True):
    """What one collector process subscribes to."""

    index: int
    feeds: tuple[FeedShare, ...]

    @property
    def size(self) -> int:
        """Its subscriptions, counted over every feed."""
        return sum(len(feed.subscriptions) for feed in self.feeds)


class Fleet(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed fleet file: where to publish, and the shards."""

    path: str
    redis: str
    prefix: str
    shards: tuple[Shard, ...]


class _Item(msgspec.Struct, frozen=True, order=True):
    """One subscription of one feed, in the order that decides the split."""

    exchange: str
    url: str
    feed: int
    channel: str
    symbol: str
    depth: int
    interval: str
    subscription: Subscription


def load_fleet(path: str | os.PathLike[str]) -> Fleet:
    """The fleet described by the TOML file at ``path``; ``FleetError`` if it cannot be run."""
    name = os.fspath(path)
    try:
        document = tomllib.loads(Path(name).read_text(encoding="utf-8"))
    except OSError as error:
        raise FleetError(f"{name}: cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FleetError(f"{name}: not valid TOML: {error}") from None
    return parse_fleet(document, name)


def parse_fleet(document: dict[str, object], name: str = "fleet") -> Fleet:
    """The fleet of an already parsed TOML document; ``name`` is what errors call it."""
    try:
        entry = msgspec.convert(document, _FleetEntry)
    except msgspec.ValidationError as error:
        raise FleetError(f"{name}: {_readable(str(error))}") from None
    if entry.shards < 1:
        raise FleetError(f"{name}: shards: expected a positive whole number, got {entry.shards}")
    if not entry.prefix or ":" in entry.prefix:
        raise FleetError(f"{name}: prefix: expected a non-empty name without ':', got {entry.prefix!r}")
    if not entry.redis.startswith(("redis://", "rediss://", "unix://")):
        raise FleetError(f"{name}: redis: {shown_url(entry.redis)!r} is not a redis://, rediss:// or unix:// URL")
    if not entry.feed:
        raise FleetError(f"{name}: feed: the fleet needs at least one [[feed]]")
    items = sorted(_items(entry.feed, name))
    if entry.shards > len(items):
        raise FleetError(
            f"{name}: shards: {entry.shards} shards for {len(items)} subscriptions would leave a shard with nothing"
        )
    shards = tuple(
        Shard(index=index, feeds=_feed_shares(entry.feed, run)) for index, run in enumerate(_runs(items, entry.shards))
    )
    return Fleet(path=name, redis=entry.redis, prefix=entry.prefix, shards=shards)


def _readable(message: str) -> str:
    """msgspec's ``... - at `$.feed[0].depth``` as ``feed[0].depth: ...``."""
    text, _, where = message.rpartition(" - at `$")
    if not text:
        return message
    return f"{where.rstrip('`').lstrip('.')}: {text}"


def _items(feeds: list[_FeedEntry], name: str) -> Iterable[_Item]:
    """Every subscription of every feed, checked against its adapter; a repeated one is refused."""
    seen: dict[tuple[str, str, Subscription], str] = {}
    for number, feed in enumerate(feeds):
        where = f"{name}: feed[{number}]"
        try:
            adapter = registry.get(feed.exchange)
        except LookupError as error:
            raise FleetError(f"{where}.exchange: {error}") from None
        if feed.url is not None and not feed.url.startswith(("ws://", "wss://")):
            raise FleetError(f"{where}.url: {feed.url!r} is not a ws:// or wss:// URL")
        if feed.subscriptions_per_connection is not None and feed.subscriptions_per_connection < 1:
            raise FleetError(f"{where}.subscriptions_per_connection: expected a positive whole number")
        if not feed.subscribe:
            raise FleetError(f"{where}.subscribe: the feed subscribes to nothing: add a [[feed.subscribe]]")
        for index, entry in enumerate(feed.subscribe):
            place = f"{where}.subscribe[{index}]"
            try:
                requests = subscriptions.of_channel(
                    entry.channel, entry.symbols, depth=entry.depth, interval=entry.interval
                )
                for request in requests:
                    adapter.check(request)
            except ValueError as error:
                raise FleetError(f"{place}: {error}") from None
            for request in requests:
                key = (feed.exchange, feed.url or "", request)
                if key in seen:
                    raise FleetError(f"{place}: {request} on {feed.exchange} is already listed at {seen[key]}")
                seen[key] = place.removeprefix(f"{name}: ")
                yield _Item(
                    exchange=feed.exchange,
                    url=feed.url or "",
                    feed=number,
                    channel=request.channel,
                    symbol=request.symbol,
                    depth=request.depth or 0,
                    interval=request.interval or "",
                    subscription=request,
                )


def _runs(items: list[_Item], count: int) -> list[list[_Item]]:
    """``items`` cut into ``count`` consecutive runs whose lengths differ by one at most."""
    size, extra = divmod(len(items), count)
    runs: list[list[_Item]] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        runs.append(items[start:end])
        start = end
    return runs


def _feed_shares(feeds: list[_FeedEntry], run: list[_Item]) -> tuple[FeedShare, ...]:
    """A shard's items grouped back into the feeds they came from."""
    grouped: dict[int, list[Subscription]] = {}
    for item in run:
        grouped.setdefault(item.feed, []).append(item.subscription)
    return tuple(
        FeedShare(
            exchange=feeds[number].exchange,
            url=feeds[number].url,
            subscriptions_per_connection=feeds[number].subscriptions_per_connection,
            subscriptions=tuple(requests),
        )
        for number, requests in grouped.items()
    )
