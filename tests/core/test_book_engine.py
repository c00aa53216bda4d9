"""The book engine: real captures verify end to end, and random histories match a plain model."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from adapters.kraken_common import checksum
from adapters.kraken_common.checksum import KrakenChecksum, checksum_of_text
from schemas import BookInvalidated, BookLevel, BookSnapshot, BookUpdate
from sdk import registry, testing
from sdk.book import OrderBook
from sdk.books import BookKeeper
from tests.conftest import FIXTURES, fixture_lines


def replay(name: str) -> tuple[BookKeeper, int]:
    """Every book event of a capture through the v1 codec and a verifying keeper."""
    codec = registry.get("kraken-v1").new_codec()
    keeper = BookKeeper("kraken-v1")
    updates = 0
    for line in fixture_lines(f"kraken/{name}"):
        for event in testing.decode(codec, line, 0):
            if isinstance(event, BookSnapshot):
                keeper.track(event.symbol, event.depth, verify=True)
                assert keeper.on_snapshot(event, codec.book_checksum(event.symbol)) is None
            elif isinstance(event, BookUpdate):
                updates += 1
                assert keeper.on_update(event) is None, f"update {updates}: {line}"
    return keeper, updates


def test_v1_book_capture_verifies_every_checksum() -> None:
    keeper, updates = replay("v1_book.jsonl")
    assert updates == 979
    assert (keeper.stats.checks, keeper.stats.failures) == (979, 0)
    book = keeper.view("BTC/USD")
    assert book.valid
    assert len(book.bids(100)) == len(book.asks(100)) == 10


def test_depth_1000_capture_verifies_every_checksum_of_every_pair() -> None:
    keeper, updates = replay("v1_book_depth1000.jsonl")
    assert updates == 4269
    assert (keeper.stats.checks, keeper.stats.failures) == (4269, 0)
    for symbol in ("XMR/USD", "BTC/CHF", "ADA/BTC", "WAVES/EUR"):
        view = keeper.view(symbol)
        assert view.valid
        assert view.best_bid is not None and view.best_ask is not None
        assert view.best_bid[0] < view.best_ask[0]


def test_a_single_wrong_checksum_is_caught() -> None:
    lines = fixture_lines("kraken/v1_book.jsonl")
    tampered = [line.replace('"c":"3572756970"', '"c":"3572756971"') for line in lines]
    codec = registry.get("kraken-v1").new_codec()
    keeper = BookKeeper("kraken-v1")
    keeper.track("BTC/USD", 10, verify=True)
    failures = []
    for line in tampered:
        for event in testing.decode(codec, line, 0):
            if isinstance(event, BookSnapshot):
                keeper.on_snapshot(event, codec.book_checksum(event.symbol))
            elif isinstance(event, BookUpdate) and (problem := keeper.on_update(event)) is not None:
                failures.append(problem)
    assert failures == [
        BookInvalidated(
            exchange="kraken-v1",
            symbol="BTC/USD",
            depth=10,
            reason="checksum",
            expected=3572756971,
            computed=3572756970,
            ts_received=0,
        )
    ]
    assert not keeper.view("BTC/USD").valid  # and it stays invalid: later updates are not applied


VECTORS = json.loads((FIXTURES / "kraken" / "checksum_vectors.json").read_text())


def test_v1_docs_vector() -> None:
    vector = VECTORS["v1_docs_guide"]
    assert checksum_of_text([(p, q) for p, q, _ in vector["as"]], [(p, q) for p, q, _ in vector["bs"]]) == 974947235
    book = OrderBook("X/Y", 100, KrakenChecksum())
    levels = {side: tuple(BookLevel(Decimal(p), Decimal(q)) for p, q, _ in vector[side]) for side in ("as", "bs")}
    book.apply_snapshot(
        BookSnapshot(exchange="k", symbol="X/Y", depth=100, bids=levels["bs"], asks=levels["as"], ts_received=0)
    )
    assert book.checksum() == vector["expected_checksum"] == 974947235


@pytest.mark.parametrize("name", ["v2_docs_guide_btcusd", "v2_docs_book_page_maticusd"])
def test_v2_docs_vectors_with_instrument_precision(name: str) -> None:
    vector = VECTORS[name]
    data = json.loads(json.dumps(vector["message"]["data"][0]), parse_float=Decimal)
    scheme = KrakenChecksum(vector["price_precision"], vector["qty_precision"])
    book = OrderBook(data["symbol"], 10, scheme)

    def side(rows: list[dict[str, Decimal]]) -> tuple[BookLevel, ...]:
        return tuple(BookLevel(Decimal(r["price"]), Decimal(r["qty"])) for r in rows)

    book.apply_snapshot(
        BookSnapshot(
            exchange="k",
            symbol="X/Y",
            depth=10,
            bids=side(data["bids"]),
            asks=side(data["asks"]),
            ts_received=0,
        )
    )
    assert book.checksum() == vector["expected_checksum"] == data["checksum"]


# -- the engine against a plain reference model ---------------------------------------------

TEXT_SCHEME = KrakenChecksum()
prices = st.integers(1, 60).map(lambda n: Decimal(n).scaleb(-1).quantize(Decimal("0.00001")))
quantities = st.integers(1, 10**9).map(lambda n: Decimal(n).scaleb(-8))
ZERO = Decimal("0.00000000")


class BookMachine(RuleBasedStateMachine):
    """Random snapshots, inserts, changes and deletes (known and unknown), with depth cuts."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 10
        self.book = OrderBook("T/T", self.depth, TEXT_SCHEME)
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    @initialize(
        depth=st.sampled_from([1, 3, 10, 25]),
        compact=st.booleans(),
        bids=st.lists(st.tuples(prices, quantities), max_size=30),
        asks=st.lists(st.tuples(prices, quantities), max_size=30),
    )
    def snapshot(
        self, depth: int, compact: bool, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
    ) -> None:
        """Either layout of the levels (``compact`` or Decimals) must behave as the model."""
        self.depth = depth
        self.book = OrderBook("T/T", depth, TEXT_SCHEME, compact=compact)
        self.bids, self.asks = dict(bids), dict(asks)
        self._cut()
        self.book.apply_snapshot(
            BookSnapshot(
                exchange="t",
                symbol="T/T",
                depth=depth,
                bids=tuple(BookLevel(p, q) for p, q in sorted(self.bids.items(), reverse=True)),
                asks=tuple(BookLevel(p, q) for p, q in sorted(self.asks.items())),
                ts_received=0,
            )
        )

    @rule(
        bids=st.lists(st.tuples(prices, st.one_of(quantities, st.just(ZERO))), max_size=6),
        asks=st.lists(st.tuples(prices, st.one_of(quantities, st.just(ZERO))), max_size=6),
    )
    def update(self, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> None:
        """Inserts, changes and deletes in wire order; deletes may name unknown prices."""
        for model, levels in ((self.bids, bids), (self.asks, asks)):
            for price, qty in levels:
                if qty:
                    model[price] = qty
                else:
                    model.pop(price, None)
        self._cut()
        self.book.apply_update(
            BookUpdate(
                exchange="t",
                symbol="T/T",
                depth=self.depth,
                bids=tuple(BookLevel(p, q) for p, q in bids),
                asks=tuple(BookLevel(p, q) for p, q in asks),
                ts_received=0,
            )
        )

    @precondition(lambda self: bool(self.bids))
    @rule(data=st.data())
    def delete_known(self, data: st.DataObject) -> None:
        price = data.draw(st.sampled_from(sorted(self.bids)))
        del self.bids[price]
        self.book.apply_update(
            BookUpdate(
                exchange="t",
                symbol="T/T",
                depth=self.depth,
                bids=(BookLevel(price, ZERO),),
                asks=(),
                ts_received=0,
            )
        )

    def _cut(self) -> None:
        self.bids = dict(sorted(self.bids.items(), reverse=True)[: self.depth])
        self.asks = dict(sorted(self.asks.items())[: self.depth])

    @invariant()
    def same_as_model(self) -> None:
        assert self.book.bids.top(1000) == sorted(self.bids.items(), reverse=True)
        assert self.book.asks.top(1000) == sorted(self.asks.items())

    @invariant()
    def checksum_from_scratch(self) -> None:
        def text(items: list[tuple[Decimal, Decimal]]) -> list[tuple[str, str]]:
            return [(f"{p:f}", f"{q:f}") for p, q in items]

        expected = checksum_of_text(text(sorted(self.asks.items())), text(sorted(self.bids.items(), reverse=True)))
        assert self.book.checksum() == expected


TestBookMachine = BookMachine.TestCase


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10**12, places=10), st.data())
def test_fragment_fast_path_matches_the_definition(value: Decimal, data: st.DataObject) -> None:
    """The str()-based fragment equals 'fixed-point text, no dot, no leading zeros' for any scale."""
    exponent = data.draw(st.integers(-12, 3))
    number = value.scaleb(exponent) if value else Decimal((0, (0,), exponent))
    expected = format(number, "f").replace(".", "").lstrip("0")
    assert TEXT_SCHEME.fragment(number, number) == expected * 2
    assert KrakenChecksum(2, 8).fragment(number, number) == (
        format(number, ".2f").replace(".", "").lstrip("0") + format(number, ".8f").replace(".", "").lstrip("0")
    )


@given(st.binary(max_size=600), st.integers(0, 2**32 - 1))
def test_the_checksum_crc_is_zlibs(data: bytes, start: int) -> None:
    """Whichever CRC-32 the checksum uses (ISA-L's with ``xfeeds[fast]``), it is zlib's, continued too."""
    assert checksum.crc32(data, start) == zlib.crc32(data, start)
    assert checksum.crc32(data, 0) == zlib.crc32(data)
