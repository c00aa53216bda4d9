"""Levels stored as integers: every Decimal comes back with its digits, exponent and sign, in price order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.kraken_common.checksum import KrakenChecksum
from schemas import BookLevel, BookSnapshot, BookUpdate
from sdk import registry, testing
from sdk.book import EXACT, CompactSide, OrderBook
from tests.conftest import fixture_lines

finite = st.decimals(allow_nan=False, allow_infinity=False)
scaled = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent, EXACT), st.integers(), st.integers(-12, 12)
)
huge = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent, EXACT),
    st.integers(-(10**40), 10**40),
    st.integers(-300, 300),
)
"""Mantissas past 64 bits and exponents past one byte: what the compact columns cannot hold."""
numbers = st.one_of(finite, scaled, huge)
quantities = numbers.filter(bool)


def exact(number: Decimal) -> tuple[int, tuple[int, ...], int | str]:
    """Sign, digits and exponent: equal only for the very same wire text."""
    return tuple(number.as_tuple())  # type: ignore[return-value]


Model = dict[Decimal, tuple[Decimal, Decimal]]
"""A side as a plain dict: by price value, the level as first written (its price text) and its quantity."""


def write(model: Model, levels: list[tuple[Decimal, Decimal]]) -> Model:
    """``model`` after ``levels`` in order: a zero quantity deletes, a price keeps its first text."""
    for price, qty in levels:
        if not qty:
            model.pop(price, None)
        else:
            model[price] = (model[price][0] if price in model else price, qty)
    return model


@pytest.mark.parametrize("bids", [True, False])
@given(levels=st.lists(st.tuples(numbers, st.one_of(quantities, st.just(Decimal(0)))), max_size=40))
def test_a_side_gives_back_every_level_exactly_in_price_order(
    bids: bool, levels: list[tuple[Decimal, Decimal]]
) -> None:
    side = CompactSide(bids=bids)
    side.write(tuple(BookLevel(price, qty) for price, qty in levels))
    model = write({}, levels)
    expected = [model[price] for price in sorted(model, reverse=bids)]
    top = side.top(len(expected) + 1)
    assert [(exact(p), exact(q)) for p, q in top] == [(exact(p), exact(q)) for p, q in expected]
    assert side.best() == (expected[0][0] if expected else None)


@given(
    first=st.lists(st.tuples(numbers, quantities), max_size=20),
    then=st.lists(st.tuples(numbers, quantities), max_size=20),
    depth=st.integers(1, 30),
)
def test_a_snapshot_after_wide_values_starts_compact_and_stays_exact(
    first: list[tuple[Decimal, Decimal]], then: list[tuple[Decimal, Decimal]], depth: int
) -> None:
    side = CompactSide(bids=False)
    side.write(tuple(BookLevel(p, q) for p, q in first))
    side.clear()
    side.write(tuple(BookLevel(p, q) for p, q in then))
    side.truncate(depth)
    model = write({}, then)
    expected = [model[price] for price in sorted(model)[:depth]]
    assert [(exact(p), exact(q)) for p, q in side.top(depth)] == [(exact(p), exact(q)) for p, q in expected]


@given(bid=numbers, ask=numbers)
def test_crossed_compares_values_whatever_the_sides_scales(bid: Decimal, ask: Decimal) -> None:
    book = OrderBook("T/T", 10, None, compact=True)
    book.apply_snapshot(
        BookSnapshot(
            exchange="t",
            symbol="T/T",
            depth=10,
            bids=(BookLevel(bid, Decimal(1)),),
            asks=(BookLevel(ask, Decimal("1.0")),),
            ts_received=0,
        )
    )
    assert book.crossed() == (bid >= ask)


def test_negative_zero_keeps_its_sign() -> None:
    side = CompactSide(bids=True)
    side.write((BookLevel(Decimal("-0.00"), Decimal(1)), BookLevel(Decimal("-1"), Decimal(2))))
    assert [exact(p) for p, _ in side.top(2)] == [exact(Decimal("-0.00")), exact(Decimal("-1"))]


def levels_of(model: Model, descending: bool) -> list[tuple[Decimal, Decimal]]:
    return [model[price] for price in sorted(model, reverse=descending)]


def exactly(levels: list[tuple[Decimal, Decimal]]) -> list[tuple[object, object]]:
    return [(exact(price), exact(qty)) for price, qty in levels]


@pytest.mark.parametrize("name", ["v1_book.jsonl", "v1_book_depth1000.jsonl"])
def test_captures_read_back_the_wire_numbers_and_their_checksums(name: str) -> None:
    """After every captured update the best levels read as their wire Decimals and the checksum equals
    the one made from those Decimals directly; at the end, so does every level of every book."""
    codec = registry.get("kraken-v1").new_codec()
    scheme = KrakenChecksum()
    books: dict[str, OrderBook] = {}
    models: dict[str, tuple[Model, Model]] = {}
    for line in fixture_lines(f"kraken/{name}"):
        for event in testing.decode(codec, line, 0):
            if not isinstance(event, BookSnapshot | BookUpdate):
                continue
            if isinstance(event, BookSnapshot):
                books[event.symbol] = OrderBook(event.symbol, event.depth, scheme, compact=True)
                books[event.symbol].apply_snapshot(event)
                models[event.symbol] = ({}, {})
            else:
                books[event.symbol].apply_update(event)
            book = books[event.symbol]
            for model, levels, descending in zip(
                models[event.symbol], (event.bids, event.asks), (True, False), strict=True
            ):
                write(model, [(level.price, level.qty) for level in levels])
                for price in sorted(model, reverse=descending)[book.depth :]:
                    del model[price]
            bids, asks = levels_of(models[event.symbol][0], True), levels_of(models[event.symbol][1], False)
            assert exactly(book.bids.top(25)) == exactly(bids[:25])
            assert exactly(book.asks.top(25)) == exactly(asks[:25])
            reference = scheme.checksum(
                "".join(scheme.fragment(p, q) for p, q in asks[: scheme.levels]).encode(),
                "".join(scheme.fragment(p, q) for p, q in bids[: scheme.levels]).encode(),
            )
            assert book.checksum() == reference
    for symbol, book in books.items():
        bids_model, asks_model = models[symbol]
        assert exactly(book.bids.top(book.depth)) == exactly(levels_of(bids_model, True))
        assert exactly(book.asks.top(book.depth)) == exactly(levels_of(asks_model, False))
