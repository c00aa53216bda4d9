"""Midchains' codec: the documented messages, the order-level book, trade de-duplication, garbage."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import sdk
from adapters.midchains.orders import OrderLevelBook
from adapters.midchains.wire import Entry
from schemas import (
    BookInvalidated,
    BookLevel,
    BookSnapshot,
    BookUpdate,
    ErrorEvent,
    Status,
    Subscribed,
    SubscriptionError,
    Trade,
    Unsubscribed,
)
from sdk import registry, testing
from sdk.book import OrderBook
from sdk.wiretext import WireValueError


def codec_for(*subscriptions: Any) -> Any:
    codec = registry.get("midchains").new_codec()
    codec.subscribe(list(subscriptions))
    return codec


DOC_BOOK = (
    '{"security":"LTCUSD","books":[{"side":"B","act":"U","src":"CROX","price":"184.3","qty":"2.85",'
    '"id":120946647655360,"time":"1614331055706","mpid":"ANON","key":"NA"}],"type":"book"}'
)
DOC_TRADE = (
    '{"security":"BTCUSD","src":"CROX","price":"150","qty":"1","time":"1614334523954","type":"trade",'
    '"matchid":"5Z3YF5Z0N8PK","maker_side":"S"}'
)
FII_BOOK = (
    '{"security":"BTCUSD","books":[{"side":"S","act":"U","src":"GEMI","price":7014.19,"qty":0.02014047,'
    '"id":6988929507302077441,"key":"NA"},{"act":"R","id":6988929507302197249}],"type":"book"}'
)


def test_documented_book_message_is_the_snapshot() -> None:
    codec = codec_for(sdk.book("LTC/USD"))
    subscribed, snapshot = testing.decode(codec, DOC_BOOK, 5)
    assert isinstance(subscribed, Subscribed) and subscribed.subscription == sdk.book("LTC/USD")
    assert snapshot == BookSnapshot(
        exchange="midchains",
        symbol="LTC/USD",
        depth=10,
        bids=(BookLevel(Decimal("184.3"), Decimal("2.85")),),
        asks=(),
        ts_exchange=1_614_331_055_706_000_000,
        ts_received=5,
    )


def test_documented_trade_with_maker_side_and_without() -> None:
    codec = codec_for(sdk.trades("BTC/USD"))
    subscribed, trade = testing.decode(codec, DOC_TRADE, 1)
    assert isinstance(subscribed, Subscribed)
    assert trade == Trade(
        exchange="midchains",
        symbol="BTC/USD",
        price=Decimal("150"),
        qty=Decimal("1"),
        side="buy",  # the maker sold, so the taker bought
        trade_id="5Z3YF5Z0N8PK",
        ts_exchange=1_614_334_523_954_000_000,
        ts_received=1,
    )
    assert testing.decode(codec, DOC_TRADE, 2) == []  # a replay of the same match is dropped
    [older] = testing.decode(codec, DOC_TRADE.replace("5Z3YF5Z0N8PK", "OTHER").replace(',"maker_side":"S"', ""), 3)
    assert isinstance(older, Trade) and older.side is None


def test_numbers_as_json_numbers_ids_beyond_2_53_and_bare_removals() -> None:
    codec = codec_for(sdk.book("BTC/USD"), sdk.quotes("BTC/USD"))
    events = testing.decode(codec, FII_BOOK, 0)
    [snapshot] = [e for e in events if isinstance(e, BookSnapshot)]
    assert snapshot.asks == (BookLevel(Decimal("7014.19"), Decimal("0.02014047")),)
    assert not [e for e in events if isinstance(e, ErrorEvent)]
    removal = '{"security":"BTCUSD","books":[{"act":"R","id":6988929507302077441}],"type":"book"}'
    [update] = testing.decode(codec, removal, 0)
    assert update == BookUpdate(
        exchange="midchains",
        symbol="BTC/USD",
        depth=10,
        bids=(),
        asks=(BookLevel(Decimal("7014.19"), Decimal(0)),),
        ts_received=0,
    )


def test_replies_errors_heartbeats() -> None:
    codec = codec_for(sdk.trades("XXX/USD"), sdk.book("BCH/USD"))
    refusal = (
        '{"type":"subscribe","result":"invalid security","request":[{"msg":"trade","security":"XXXUSD","dest":"CROX"}]}'
    )
    [refused] = testing.decode(codec, refusal, 0)
    assert refused == SubscriptionError(
        exchange="midchains",
        symbol="XXX/USD",
        subscription=sdk.trades("XXX/USD"),
        message="invalid security",
        ts_received=0,
    )
    codec.unsubscribe([sdk.book("BCH/USD")])
    ok = '{"type":"unsubscribe","result":"OK","request":[{"msg":"book","security":"BCHUSD","dest":"CROX"}]}'
    assert testing.decode(codec, ok, 0) == [
        Unsubscribed(exchange="midchains", symbol="BCH/USD", subscription=sdk.book("BCH/USD"), ts_received=0)
    ]
    [error] = testing.decode(codec, '{"type":"error","result":"rate limit exceeded"}', 0)
    assert isinstance(error, ErrorEvent) and "rate limit exceeded" in error.message
    assert testing.decode(codec, '{"type":"heartbeat","time":"1700000030000"}', 0) == []
    [status] = testing.decode(codec, '{"type":"open","time":"1700000000000"}', 0)
    assert isinstance(status, Status)


def test_requests_batch_items_and_never_ping_in_json() -> None:
    codec = registry.get("midchains").new_codec()
    [frame] = codec.subscribe([sdk.book("BCH/USD"), sdk.quotes("BCH/USD"), sdk.trades("BCH/USD")])
    assert json.loads(frame) == {
        "type": "subscribe",
        "request": [
            {"msg": "book", "security": "BCHUSD", "dest": "CROX"},
            {"msg": "trade", "security": "BCHUSD", "dest": "CROX"},
        ],
    }
    assert codec.ping() is None


# -- the order-level book ------------------------------------------------------------------

ids = st.integers(2**53, 2**53 + 40)
prices = st.integers(1, 20).map(lambda n: Decimal(n) / 4)
quantities = st.integers(0, 50).map(lambda n: Decimal(n) / 8)


class OrderBookMachine(RuleBasedStateMachine):
    """Adds, updates (zero meaning remove), removals of known and unknown ids, IOIs, against a model."""

    def __init__(self) -> None:
        super().__init__()
        self.book = OrderLevelBook()
        self.model: dict[int, tuple[str, Decimal, Decimal, bool]] = {}

    @rule(
        entry_id=ids,
        side=st.sampled_from("BS"),
        price=prices,
        qty=quantities,
        act=st.sampled_from("AU"),
        ioi=st.booleans(),
    )
    def upsert(self, entry_id: int, side: str, price: Decimal, qty: Decimal, act: str, ioi: bool) -> None:
        self.book.apply(
            [Entry(act=act, id=entry_id, side=side, price=price, qty=qty, ioi=ioi)], zero_qty_is_remove=True
        )
        if act == "U" and qty == 0:
            self.model.pop(entry_id, None)
        else:
            self.model[entry_id] = (side, price, qty, ioi)

    @rule(entry_id=ids, as_text=st.booleans())
    def remove(self, entry_id: int, as_text: bool) -> None:
        self.book.apply([Entry(act="R", id=str(entry_id) if as_text else entry_id)], zero_qty_is_remove=True)
        self.model.pop(entry_id, None)

    @invariant()
    def levels_are_sums_of_executable_entries(self) -> None:
        for side in "BS":
            expected: dict[Decimal, Decimal] = {}
            for entry_side, price, qty, ioi in self.model.values():
                if entry_side == side and not ioi:
                    expected[price] = expected.get(price, Decimal(0)) + qty
            expected = {p: q for p, q in expected.items() if q > 0}
            assert self.book.top(side, 1000) == sorted(expected.items(), reverse=side == "B")


TestOrderBookMachine = OrderBookMachine.TestCase


entries = st.lists(st.tuples(ids, st.sampled_from("BS"), prices, quantities, st.sampled_from("AUR")), max_size=12)


@given(st.lists(entries, min_size=1, max_size=8), st.sampled_from([1, 3, 10]))
def test_emitted_l2_events_rebuild_the_aggregated_top_of_book(messages: list[Any], depth: int) -> None:
    """Applying the codec's snapshot and updates to a book gives exactly the exchange's top levels."""
    codec = codec_for(sdk.book("BCH/USD", depth))
    book = OrderBook("BCH/USD", depth, None)
    truth = OrderLevelBook()
    for message in messages:
        books = [{"act": act, "id": i, "side": s, "price": str(p), "qty": str(q)} for i, s, p, q, act in message]
        for event in testing.decode(codec, json.dumps({"security": "BCHUSD", "books": books, "type": "book"}), 0):
            if isinstance(event, BookSnapshot):
                book.apply_snapshot(event)
            elif isinstance(event, BookUpdate):
                book.apply_update(event)
        for i, s, p, q, act in message:
            truth.apply([Entry(act=act, id=i, side=s, price=p, qty=q)], zero_qty_is_remove=True)
        assert book.bids.top(depth) == truth.top("B", depth)
        assert book.asks.top(depth) == truth.top("S", depth)


bad_entries = st.sampled_from(  # entries the wire accepts but the book cannot (bad numbers never get this far)
    [
        Entry(act="A", id=1, qty=Decimal(1)),  # neither side nor price
        Entry(act="U", id=2, side="X", price=Decimal(1), qty=Decimal(1)),
        Entry(act="Z", id=5),
    ]
)


@given(entries, entries, bad_entries, st.integers(0, 12), st.booleans())
def test_a_message_with_a_bad_entry_anywhere_changes_nothing(
    held: list[Any], message: list[Any], bad: Entry, position: int, replace: bool
) -> None:
    def as_entries(rows: list[Any]) -> list[Entry]:
        return [Entry(act=act, id=i, side=s, price=p, qty=q) for i, s, p, q, act in rows]

    book, twin = OrderLevelBook(), OrderLevelBook()
    for each in (book, twin):
        each.apply(as_entries(held), zero_qty_is_remove=True)
    good = as_entries(message)
    with pytest.raises(WireValueError):
        book.apply([*good[:position], bad, *good[position:]], zero_qty_is_remove=True, replace=replace)
    assert book.levels == twin.levels
    for each in (book, twin):  # the entries behind the levels are untouched too
        each.apply(good, zero_qty_is_remove=True, replace=replace)
    assert book.levels == twin.levels


MALFORMED = '{"security":"BCHUSD","books":[{"act":"R","id":1},{"act":"A","id":3,"qty":"1"}],"type":"book"}'


def book_message(*rows: tuple[int, str, str]) -> str:
    books = [{"act": "U", "id": i, "side": side, "price": price, "qty": "1"} for i, side, price in rows]
    return json.dumps({"security": "BCHUSD", "books": books, "type": "book"})


def test_a_malformed_book_message_is_refused_whole_and_nothing_is_built_on_the_book_until_resubscribed() -> None:
    codec = codec_for(sdk.book("BCH/USD"))
    testing.decode(codec, book_message((1, "S", "10"), (2, "B", "9")), 0)
    error, invalidated = testing.decode(codec, MALFORMED, 1)
    assert isinstance(error, ErrorEvent) and "book entry 3 lacks a side" in error.message
    assert invalidated == BookInvalidated(exchange="midchains", symbol="BCH/USD", depth=10, reason="malformed", ts_received=1)
    assert codec.reconnect_reason is None
    assert testing.decode(codec, book_message((4, "B", "8")), 2) == []
    codec.unsubscribe([sdk.book("BCH/USD")])
    codec.subscribe([sdk.book("BCH/USD")])
    assert testing.decode(codec, book_message((5, "B", "7")), 3) == [], "the ended stream's, still in flight"
    ok = '{"type":"unsubscribe","result":"OK","request":[{"msg":"book","security":"BCHUSD","dest":"CROX"}]}'
    assert [type(e) for e in testing.decode(codec, ok, 4)] == [Unsubscribed]
    subscribed, snapshot = testing.decode(codec, book_message((1, "S", "10")), 5)
    assert isinstance(subscribed, Subscribed) and isinstance(snapshot, BookSnapshot)
    assert snapshot.asks == (BookLevel(Decimal(10), Decimal(1)),) and snapshot.bids == ()


def test_a_malformed_snapshot_never_lets_the_next_delta_pass_for_one() -> None:
    codec = codec_for(sdk.book("BCH/USD"))
    [_, error, invalidated] = testing.decode(codec, MALFORMED, 0)
    assert isinstance(error, ErrorEvent) and isinstance(invalidated, BookInvalidated)
    assert testing.decode(codec, book_message((4, "B", "8")), 1) == []


def test_a_malformed_message_for_a_quotes_only_book_asks_for_a_new_connection() -> None:
    codec = codec_for(sdk.quotes("BCH/USD"))
    testing.decode(codec, book_message((1, "S", "10"), (2, "B", "9")), 0)
    [error] = testing.decode(codec, MALFORMED, 1)
    assert isinstance(error, ErrorEvent) and codec.reconnect_reason == "malformed book message for BCH/USD"
    assert testing.decode(codec, book_message((1, "S", "11")), 2) == [], "no quote from a book behind the venue's"


def test_resubscribing_every_security_starts_each_book_again_from_a_snapshot() -> None:
    codec = codec_for(sdk.book("*"))
    assert any(isinstance(e, BookSnapshot) for e in testing.decode(codec, book_message((1, "S", "10")), 0))
    codec.unsubscribe([sdk.book("*")])
    codec.subscribe([sdk.book("*")])
    ok = '{"type":"unsubscribe","result":"OK","request":[{"msg":"book","security":"*","dest":"CROX"}]}'
    testing.decode(codec, ok, 1)
    events = testing.decode(codec, book_message((2, "S", "11")), 2)
    [snapshot] = [e for e in events if isinstance(e, BookSnapshot)]
    assert snapshot.asks == (BookLevel(Decimal(11), Decimal(1)),)


@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.dictionaries(
            st.sampled_from(["type", "security", "books", "result"]), st.one_of(st.text(), st.integers(), st.none())
        ).map(json.dumps),
    )
)
def test_garbage_never_raises(garbage: str | bytes) -> None:
    codec = codec_for(sdk.trades("BTC/USD"))
    assert isinstance(testing.decode(codec, garbage, 0), list)
    assert any(isinstance(e, Trade) for e in testing.decode(codec, DOC_TRADE, 0))
