"""Midchains serves quotes and every book depth of a security from its one ``book`` stream.

The venue here is written from the protocol notes, not from the project's simulator: one book
stream per security; a subscribe starts it with a snapshot of the whole book (A6) and is ignored
while it runs; an unsubscribe ends it and is echoed with ``"OK"`` (A5); there are no acks (A3);
a trade subscribe replays the latest trade (A10). The feed must request a stream once, cancel it
only when nothing needs it any more, and resync a book without breaking what shares its stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from itertools import count
from typing import Any

import anyio
import pytest

import sdk
from schemas import (
    BookInvalidated,
    BookResynced,
    BookSnapshot,
    BookUpdate,
    Event,
    Quote,
    Subscribed,
    Trade,
    Unsubscribed,
)
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of
from tests.hostile.test_midchains import entry

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

SECURITY = "BCHUSD"
BOOK = sdk.book("BCH/USD")
QUOTES = sdk.quotes("BCH/USD")
Levels = list[tuple[Decimal, Decimal]]


def book_message(*entries: dict[str, Any]) -> str:
    return json.dumps({"security": SECURITY, "books": list(entries), "type": "book"})


class BookVenue:
    """One connection's Midchains venue: a book stream per security, at most one at a time."""

    def __init__(self) -> None:
        self.entries: dict[int, dict[str, Any]] = {}
        for each in (
            entry("U", 1001, "B", "245.10", "3.5"),
            entry("U", 1002, "B", "245.00", "1"),
            entry("U", 1003, "S", "245.60", "1.2"),
            entry("U", 1004, "S", "245.70", "2"),
        ):
            self.entries[each["id"]] = each
        self.requests: list[tuple[str, str, str]] = []
        """Every request item received: (type, msg, security)."""
        self.streaming: set[str] = set()
        self._peer: VenuePeer | None = None
        self._matchids = count(1)

    async def script(self, peer: VenuePeer) -> None:
        self._peer = peer
        try:
            while True:
                request = await peer.receive_json()
                for item in request["request"]:
                    await self._serve(request["type"], item["msg"], item["security"])
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return

    async def _serve(self, kind: str, msg: str, security: str) -> None:
        assert self._peer is not None
        self.requests.append((kind, msg, security))
        if msg == "trade" and kind == "subscribe":  # the replay of the latest trade (A10)
            fields = {"security": security, "src": "CROX", "price": "245.60", "qty": "0.5", "time": "1700000003000"}
            await self._peer.send(json.dumps({**fields, "type": "trade", "matchid": f"M{next(self._matchids)}"}))
        elif msg == "book" and kind == "subscribe" and security not in self.streaming:
            self.streaming.add(security)
            await self._peer.send(book_message(*self.entries.values()))
        elif msg == "book" and kind == "unsubscribe":
            self.streaming.discard(security)
            reply = {
                "type": "unsubscribe",
                "result": "OK",
                "request": [{"msg": msg, "security": security, "dest": "CROX"}],
            }
            await self._peer.send(json.dumps(reply))

    async def change(self, *entries: dict[str, Any]) -> None:
        """The book changes; a running stream carries the change."""
        for each in entries:
            if each["act"] == "R":
                self.entries.pop(each["id"], None)
            else:
                self.entries[each["id"]] = each
        await self.send_book(book_message(*entries))

    async def send_book(self, message: str) -> None:
        assert self._peer is not None
        if SECURITY in self.streaming:
            await self._peer.send(message)

    def top(self, side: str, depth: int) -> Levels:
        levels: dict[Decimal, Decimal] = {}
        for each in self.entries.values():
            if each["side"] == side:
                price = Decimal(each["price"])
                levels[price] = levels.get(price, Decimal(0)) + Decimal(each["qty"])
        return sorted(levels.items(), reverse=side == "B")[:depth]

    def count(self, kind: str) -> int:
        """How many book requests of ``kind`` the venue received."""
        return sum(1 for k, msg, _ in self.requests if k == kind and msg == "book")


async def until(feed: sdk.Feed, done: Callable[[list[Event]], bool], timeout: float = 3) -> list[Event]:
    return await collect_until(feed, done, timeout=timeout)


async def settled(feed: sdk.Feed, symbol: str) -> list[Event]:
    """Events until the venue has read every request sent before this (it answers in order)."""
    await feed.subscribe(sdk.trades(symbol))
    return await until(feed, lambda es: any(isinstance(e, Trade) and e.symbol == symbol for e in es))


def held(feed: sdk.Feed, depth: int = 10) -> tuple[Levels, Levels]:
    view = feed.orderbook("BCH/USD", depth)
    assert view.valid
    return view.bids(), view.asks()


def venue_top(venue: BookVenue, depth: int = 10) -> tuple[Levels, Levels]:
    return venue.top("B", depth), venue.top("S", depth)


def after(event: Event, events: list[Event]) -> list[Event]:
    return events[events.index(event) + 1 :]


async def test_quotes_added_to_a_streaming_book_share_its_stream_and_the_book_stays_whole() -> None:
    venue = BookVenue()
    async with HostileVenue(venue.script) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(BOOK)
        await until(feed, lambda es: bool(of(BookSnapshot, es)))
        await feed.subscribe(QUOTES)
        await settled(feed, "BCH/USD")
        await venue.change(entry("A", 1005, "B", "245.20", "0.7"))
        events = await until(feed, lambda es: bool(of(Quote, es)))
        book = held(feed)
    assert venue.count("subscribe") == 1, "one book stream serves both"
    assert not of(BookSnapshot, events), "a delta is never taken for a snapshot"
    assert of(Subscribed, events)[0].subscription == QUOTES
    [quote] = of(Quote, events)
    assert (quote.bid, quote.ask) == (Decimal("245.20"), Decimal("245.60"))
    assert book == venue_top(venue)


async def test_a_book_added_to_streaming_quotes_starts_from_the_whole_book() -> None:
    venue = BookVenue()
    async with HostileVenue(venue.script) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(QUOTES)
        await until(feed, lambda es: bool(of(Quote, es)))
        await feed.subscribe(BOOK)
        await settled(feed, "BCH/USD")
        await venue.change(entry("A", 1005, "S", "245.50", "0.3"))
        events = await until(feed, lambda es: bool(of(BookSnapshot, es)) and bool(of(Quote, es)))
        book = held(feed)
    assert venue.count("subscribe") == 1
    [snapshot] = of(BookSnapshot, events)
    assert len(snapshot.bids) == 2 and len(snapshot.asks) == 3, "the snapshot is the whole book, not the last delta"
    assert book == venue_top(venue)
    assert of(Quote, events)[-1].ask == Decimal("245.50")


async def test_unsubscribing_quotes_leaves_the_book_it_shares_streaming() -> None:
    venue = BookVenue()
    async with HostileVenue(venue.script) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(BOOK, QUOTES)
        await until(feed, lambda es: bool(of(BookSnapshot, es)) and bool(of(Quote, es)))
        await feed.unsubscribe(QUOTES)
        await settled(feed, "BCH/USD")
        await venue.change(entry("A", 1005, "B", "245.20", "0.7"))
        events = await until(feed, lambda es: bool(of(BookUpdate, es)))
        book = held(feed)
    assert venue.count("unsubscribe") == 0, "the book still needs the stream"
    [unsubscribed] = of(Unsubscribed, events)
    assert unsubscribed.subscription == QUOTES and not of(Quote, after(unsubscribed, events))
    assert book == venue_top(venue)


async def test_unsubscribing_the_book_leaves_quotes_flowing() -> None:
    venue = BookVenue()
    async with HostileVenue(venue.script) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(BOOK, QUOTES)
        await until(feed, lambda es: bool(of(BookSnapshot, es)) and bool(of(Quote, es)))
        await feed.unsubscribe(BOOK)
        await settled(feed, "BCH/USD")
        await venue.change(entry("A", 1005, "B", "245.20", "0.7"))
        events = await until(feed, lambda es: bool(of(Quote, es)))
    assert venue.count("unsubscribe") == 0, "quotes still need the stream"
    [unsubscribed] = of(Unsubscribed, events)
    assert unsubscribed.subscription == BOOK and not of(BookUpdate, after(unsubscribed, events))
    assert of(Quote, events)[-1].bid == Decimal("245.20")


async def test_two_depths_of_one_book_share_its_stream_until_the_last_leaves() -> None:
    shallow, deep = sdk.book("BCH/USD", 1), sdk.book("BCH/USD", 10)
    venue = BookVenue()
    async with HostileVenue(venue.script) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(shallow)
        await until(feed, lambda es: bool(of(BookSnapshot, es)))
        await feed.subscribe(deep)
        await settled(feed, "BCH/USD")
        await venue.change(entry("A", 1005, "B", "244.90", "4"))  # below the shallow book's window
        events = await until(feed, lambda es: bool(of(BookSnapshot, es)))
        assert [(s.depth, len(s.bids)) for s in of(BookSnapshot, events)] == [(10, 3)]
        assert (held(feed, 1), held(feed, 10)) == (venue_top(venue, 1), venue_top(venue, 10))
        await venue.change(entry("A", 1006, "B", "245.30", "1"))
        events = await until(feed, lambda es: {u.depth for u in of(BookUpdate, es)} == {1, 10})
        assert (held(feed, 1), held(feed, 10)) == (venue_top(venue, 1), venue_top(venue, 10))
        await feed.unsubscribe(shallow)
        await settled(feed, "LTC/USD")
        assert venue.count("unsubscribe") == 0
        await venue.change(entry("R", 1006, "B", "245.30", "1"))
        await until(feed, lambda es: bool(of(BookUpdate, es)))
        assert held(feed, 10) == venue_top(venue, 10)
        await feed.unsubscribe(deep)
        await until(feed, lambda es: bool(of(Unsubscribed, es)))
    assert (venue.count("subscribe"), venue.count("unsubscribe")) == (1, 1)


async def test_a_resync_renews_the_shared_stream_and_everything_on_it_continues_from_the_fresh_snapshot() -> None:
    shallow, deep = sdk.book("BCH/USD", 1), sdk.book("BCH/USD", 10)
    malformed = book_message({"act": "R", "id": 1003, "side": "S"}, {"act": "A", "id": 1009, "qty": "1"})
    venue = BookVenue()
    async with (
        HostileVenue(venue.script) as hostile,
        sdk.connect("midchains", hostile.url, resync_interval=0.01) as feed,
    ):
        await feed.subscribe(shallow, deep, QUOTES)
        await until(feed, lambda es: len(of(BookSnapshot, es)) == 2 and bool(of(Quote, es)))
        await venue.send_book(malformed)
        events = await until(feed, lambda es: len(of(BookResynced, es)) == 2)
        assert sorted(i.depth or 0 for i in of(BookInvalidated, events)) == [1, 10]
        assert venue.count("unsubscribe") >= 1, "the venue is asked for a fresh snapshot"
        await venue.change(entry("R", 1003, "S", "245.60", "1.2"))  # the best ask leaves

        def caught_up(events: list[Event]) -> bool:
            views = [feed.orderbook("BCH/USD", depth) for depth in (1, 10)]
            books = [(view.bids(), view.asks()) for view in views if view.valid]
            quoted = any(isinstance(e, Quote) and e.ask == Decimal("245.70") for e in events)
            return quoted and books == [venue_top(venue, 1), venue_top(venue, 10)]

        await until(feed, caught_up)
    assert venue.streaming == {SECURITY}, "the stream is renewed, never ended"
