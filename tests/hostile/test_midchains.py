"""A Midchains venue that sends malformed book messages, and one whose old stream outlives a resubscribe.

Written from the protocol notes (documented ``book``/``trade`` shapes; A3 no acks, A5 unsubscribe
echoed with ``"OK"``, A6 the first book message after a subscribe is the snapshot), not from the
project's simulator. A book message applies whole or not at all; a refused one leaves the book
known to be behind the venue's until a fresh snapshot.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

import sdk
from schemas import BookInvalidated, BookResynced, BookSnapshot, BookUpdate, ErrorEvent, Event, Trade
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

BOOK = sdk.book("BCH/USD")


def entry(act: str, entry_id: int, side: str, price: str, qty: str) -> dict[str, Any]:
    return {
        "side": side,
        "act": act,
        "src": "CROX",
        "price": price,
        "qty": qty,
        "id": entry_id,
        "time": "1700000000000",
    }


def book(*entries: dict[str, Any]) -> str:
    return json.dumps({"security": "BCHUSD", "books": list(entries), "type": "book"})


def trade(matchid: str) -> str:
    fields = {"security": "BCHUSD", "src": "CROX", "price": "245.60", "qty": "0.5", "time": "1700000003000"}
    return json.dumps({**fields, "type": "trade", "matchid": matchid, "maker_side": "S"})


def reply(kind: str, request: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "result": "OK", "request": request["request"]})


SNAPSHOT = book(
    entry("U", 1001, "B", "245.10", "3.5"),
    entry("U", 1002, "S", "245.60", "1.2"),
    entry("U", 1003, "S", "245.70", "2"),
)
MALFORMED = book(
    {"act": "R", "id": 1002, "side": "S"},  # valid: the best ask leaves
    {"act": "A", "id": 1004, "qty": "1"},  # an add with neither side nor price
    entry("A", 1005, "B", "245.20", "0.7"),  # valid, after the bad one
)
LATER = book(entry("A", 1006, "B", "245.00", "1"))
FRESH = book(entry("U", 1001, "B", "245.10", "3.5"), entry("U", 1003, "S", "245.70", "2"))


def levels(view: sdk.BookView) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    return view.bids(), view.asks()


def after(kind: type[Event], events: list[Event]) -> list[Event]:
    """The events after the first one of ``kind``."""
    first = next(i for i, event in enumerate(events) if isinstance(event, kind))
    return events[first + 1 :]


async def test_a_malformed_book_message_is_one_error_and_leaves_the_book_as_it_was() -> None:
    async def venue(peer: VenuePeer) -> None:
        await peer.receive_json()
        await peer.send(SNAPSHOT, MALFORMED, LATER, trade("T1"))
        await peer.hold()

    async with HostileVenue(venue) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(BOOK, sdk.trades("BCH/USD"))
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=5)
        held = feed.orderbook("BCH/USD")
        bids, asks = levels(held)
    [error] = of(ErrorEvent, events)
    assert "lacks a side" in error.message
    [invalidated] = of(BookInvalidated, events)
    assert invalidated.symbol == "BCH/USD" and invalidated.reason == "malformed"
    assert not of(BookUpdate, after(ErrorEvent, events)), "nothing is built on a book the venue has moved past"
    assert bids == [(Decimal("245.10"), Decimal("3.5"))], "no entry after the bad one was applied"
    assert asks[0] == (Decimal("245.60"), Decimal("1.2")), "no entry before the bad one was applied"


async def test_a_malformed_book_message_makes_the_feed_resync_that_book() -> None:
    async def venue(peer: VenuePeer) -> None:
        await peer.receive_json()
        await peer.send(SNAPSHOT, MALFORMED)
        unsubscribe = await peer.receive_json()
        subscribe = await peer.receive_json()
        assert (unsubscribe["type"], subscribe["type"]) == ("unsubscribe", "subscribe")
        await peer.send(reply("unsubscribe", unsubscribe), FRESH)
        await peer.hold()

    async with HostileVenue(venue) as hostile, sdk.connect("midchains", hostile.url, resync_interval=0.01) as feed:
        await feed.subscribe(BOOK)
        events = await collect_until(feed, lambda es: bool(of(BookResynced, es)), timeout=3)
        held = feed.orderbook("BCH/USD")
        assert held.valid and levels(held) == (
            [(Decimal("245.10"), Decimal("3.5"))],
            [(Decimal("245.70"), Decimal("2"))],
        )
    [invalidated] = of(BookInvalidated, events)
    assert invalidated.reason == "malformed" and events.index(invalidated) < events.index(of(BookResynced, events)[0])
    assert feed.stats.errors == 1 and feed.book_stats.resyncs == 1


async def test_after_a_malformed_snapshot_the_next_delta_is_not_taken_for_the_snapshot() -> None:
    async def venue(peer: VenuePeer) -> None:
        await peer.receive_json()
        await peer.send(
            book(entry("U", 1001, "B", "245.10", "3.5"), {"act": "U", "id": 1002, "qty": "1"}),
            LATER,
            trade("T1"),
        )
        await peer.hold()

    async with HostileVenue(venue) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(BOOK, sdk.trades("BCH/USD"))
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=5)
        valid = feed.orderbook("BCH/USD").valid
    assert len(of(ErrorEvent, events)) == 1
    assert [e.reason for e in of(BookInvalidated, events)] == ["malformed"]
    assert not of(BookSnapshot, events) and not valid, "a delta is never a snapshot"


async def test_book_messages_in_flight_across_a_resubscribe_never_become_its_snapshot() -> None:
    """The old stream's last message may arrive after the new subscribe left: A5's reply is the boundary."""

    async def venue(peer: VenuePeer) -> None:
        await peer.receive_json()
        await peer.send(SNAPSHOT)
        unsubscribe = await peer.receive_json()
        subscribe = await peer.receive_json()
        assert (unsubscribe["type"], subscribe["type"]) == ("unsubscribe", "subscribe")
        in_flight = book(entry("A", 1007, "B", "245.15", "9"))  # sent before the venue read the unsubscribe
        await peer.send(in_flight, reply("unsubscribe", unsubscribe), FRESH, trade("T1"))
        await peer.hold()

    async with HostileVenue(venue) as hostile, sdk.connect("midchains", hostile.url) as feed:
        await feed.subscribe(BOOK, sdk.trades("BCH/USD"))
        await collect_until(feed, lambda es: bool(of(BookSnapshot, es)), timeout=5)
        await feed.unsubscribe(BOOK)
        await feed.subscribe(BOOK)
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=5)
        held = feed.orderbook("BCH/USD")
        bids, asks = levels(held)
        valid = held.valid
    assert not of(ErrorEvent, events)
    [snapshot] = of(BookSnapshot, events)
    assert [level.price for level in snapshot.bids] == [Decimal("245.10")]
    assert valid and bids == [(Decimal("245.10"), Decimal("3.5"))] and asks == [(Decimal("245.70"), Decimal("2"))]
