"""Midchains' codec maps subscriptions onto wire streams: quotes and every book depth share ``book``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sdk
from schemas import (
    BookInvalidated,
    BookLevel,
    BookSnapshot,
    BookUpdate,
    ErrorEvent,
    Event,
    Quote,
    Subscribed,
    SubscriptionError,
)
from sdk import registry, testing

BOOK, DEEP, QUOTES = sdk.book("BCH/USD", 1), sdk.book("BCH/USD", 10), sdk.quotes("BCH/USD")


def new_codec() -> Any:
    return registry.get("midchains").new_codec()


def requests(frames: list[str]) -> list[tuple[str, list[str]]]:
    """Each frame as (type, the ``msg`` of each item)."""
    return [(r["type"], [item["msg"] for item in r["request"]]) for r in map(json.loads, frames)]


def book_message(*rows: tuple[int, str, str], security: str = "BCHUSD") -> str:
    books = [{"act": "U", "id": i, "side": side, "price": price, "qty": "1"} for i, side, price in rows]
    return json.dumps({"security": security, "books": books, "type": "book"})


def reply(kind: str, security: str = "BCHUSD") -> str:
    return json.dumps(
        {"type": kind, "result": "OK", "request": [{"msg": "book", "security": security, "dest": "CROX"}]}
    )


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ + (f"@{e.depth}" if isinstance(e, BookSnapshot | BookUpdate) else "") for e in events]


SNAPSHOT = book_message((1, "B", "9"), (2, "B", "8"), (3, "S", "10"))


def test_a_subscription_on_a_requested_stream_only_attaches_and_is_served_from_the_held_book() -> None:
    codec = new_codec()
    assert requests(codec.subscribe([DEEP])) == [("subscribe", ["book"])]
    testing.decode(codec, SNAPSHOT, 0)
    assert codec.subscribe([QUOTES, BOOK]) == []
    events = testing.decode(codec, book_message((4, "B", "7")), 1)
    assert kinds(events) == ["Subscribed", "Subscribed", "BookUpdate@10", "BookSnapshot@1", "Quote"]
    assert [e.subscription for e in events if isinstance(e, Subscribed)] == [QUOTES, BOOK]
    [snapshot] = [e for e in events if isinstance(e, BookSnapshot)]
    assert snapshot.bids == (BookLevel(Decimal(9), Decimal(1)),) and snapshot.asks == (
        BookLevel(Decimal(10), Decimal(1)),
    )


def test_one_request_item_per_wire_stream() -> None:
    frames = new_codec().subscribe([BOOK, DEEP, QUOTES, sdk.trades("BCH/USD")])
    assert requests(frames) == [("subscribe", ["book", "trade"])]


def test_leaving_a_stream_others_hold_sends_nothing_and_is_confirmed_by_its_next_message() -> None:
    codec = new_codec()
    codec.subscribe([BOOK, QUOTES])
    testing.decode(codec, SNAPSHOT, 0)
    assert codec.unsubscribe([QUOTES]) == []
    events = testing.decode(codec, book_message((4, "B", "9.5")), 1)
    assert kinds(events) == ["Unsubscribed", "BookUpdate@1"] and events[0].subscription == QUOTES
    assert requests(codec.unsubscribe([BOOK])) == [("unsubscribe", ["book"])]
    assert testing.decode(codec, book_message((5, "B", "9.6")), 2) == [], "the ended stream's, in flight"
    assert [e.subscription for e in testing.decode(codec, reply("unsubscribe"), 3)] == [BOOK]


def test_a_book_resync_renews_the_stream_and_whatever_shares_it_continues_from_the_fresh_snapshot() -> None:
    codec = new_codec()
    codec.subscribe([BOOK, DEEP, QUOTES])
    testing.decode(codec, SNAPSHOT, 0)
    malformed = '{"security":"BCHUSD","books":[{"act":"A","id":9,"qty":"1"}],"type":"book"}'
    events = testing.decode(codec, malformed, 1)
    assert kinds(events) == ["ErrorEvent", "BookInvalidated", "BookInvalidated"]
    assert {e.depth for e in events if isinstance(e, BookInvalidated)} == {1, 10}
    assert codec.reconnect_reason is None
    assert codec.unsubscribe([BOOK]) == []  # the feed's resync: unsubscribe, then subscribe
    assert requests(codec.subscribe([BOOK])) == [("unsubscribe", ["book"]), ("subscribe", ["book"])]
    assert testing.decode(codec, book_message((4, "B", "9.5")), 2) == [], "the old stream's, in flight"
    assert [e.subscription for e in testing.decode(codec, reply("unsubscribe"), 3)] == [BOOK]
    fresh = testing.decode(codec, book_message((1, "B", "9"), (3, "S", "11")), 4)
    assert kinds(fresh) == ["Subscribed", "BookSnapshot@10", "BookSnapshot@1", "Quote"]
    assert [e.ask for e in fresh if isinstance(e, Quote)] == [Decimal(11)]


def test_a_subscription_joining_a_book_the_codec_refused_renews_the_stream() -> None:
    codec = new_codec()
    codec.subscribe([DEEP])
    testing.decode(codec, SNAPSHOT, 0)
    testing.decode(codec, '{"security":"BCHUSD","books":[{"act":"Z","id":9}],"type":"book"}', 1)
    assert requests(codec.subscribe([QUOTES])) == [("unsubscribe", ["book"]), ("subscribe", ["book"])]


def test_a_stream_the_venue_refused_is_held_by_nothing() -> None:
    codec = new_codec()
    codec.subscribe([BOOK, QUOTES])
    refusal = reply("subscribe").replace('"OK"', '"invalid security"')
    refused = testing.decode(codec, refusal, 0)
    assert [(type(e), e.subscription) for e in refused] == [(SubscriptionError, BOOK), (SubscriptionError, QUOTES)]
    assert requests(codec.subscribe([QUOTES])) == [("subscribe", ["book"])]


def test_every_security_at_two_depths_from_one_stream() -> None:
    codec = new_codec()
    wide, narrow = sdk.book("*", 10), sdk.book("*", 1)
    assert requests(codec.subscribe([wide])) == [("subscribe", ["book"])]
    assert codec.subscribe([narrow]) == []
    events = testing.decode(codec, SNAPSHOT, 0)
    assert kinds(events) == ["Subscribed", "Subscribed", "BookSnapshot@10", "BookSnapshot@1"]
    assert codec.unsubscribe([wide]) == []
    events = testing.decode(codec, book_message((4, "B", "9.5")), 1)
    assert kinds(events) == ["Unsubscribed", "BookUpdate@1"]
    assert not [e for e in events if isinstance(e, ErrorEvent)]
