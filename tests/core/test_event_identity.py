"""An event's key is the venue's identity of it: equal in every collector, in replays, across receive times."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sdk
from adapters.kraken.simulator import KrakenSimulator
from adapters.kraken_v1.simulator import KrakenV1Simulator
from adapters.midchains.simulator import MidchainsSimulator
from schemas.events import (
    BookLevel,
    BookSnapshot,
    BookUpdate,
    Candle,
    ConsolidatedQuote,
    Event,
    Instrument,
    MarketEvent,
    Quote,
    Reconnected,
    Ticker,
    Trade,
)
from sdk.simulation.simulator import Simulator
from sdk.testing import collect_for, collect_until, events, of, wire_decimals

MARKET_KINDS = (Trade, BookSnapshot, BookUpdate, Ticker, Quote, Candle, Instrument)
market_events = st.one_of([events(kind) for kind in MARKET_KINDS])


def keys(received: list[Event], kinds: tuple[type, ...] = MARKET_KINDS) -> list[str]:
    return [sdk.event_key(e) for e in received if isinstance(e, kinds)]


# -- the key alone ---------------------------------------------------------------------------------


@given(market_events, st.integers(0, 2**63))
def test_copies_of_an_event_share_its_key_whenever_they_were_received(event: MarketEvent, received: int) -> None:
    copy = msgspec.json.decode(msgspec.json.encode(event), type=type(event))
    later = msgspec.structs.replace(event, ts_received=received)
    key = sdk.event_key(event)
    assert sdk.event_key(copy) == sdk.event_key(later) == key
    assert key.isascii() and key.isprintable() and " " not in key


def test_a_key_names_exchange_channel_symbol_and_the_venue_id() -> None:
    trade = Trade(
        exchange="kraken",
        symbol="BTC/USD",
        price=Decimal(1),
        qty=Decimal(1),
        side="buy",
        trade_id="12345",
        ts_received=1,
    )
    assert sdk.event_key(trade) == "kraken:trades:BTC/USD:12345"


def test_control_events_have_no_venue_identity() -> None:
    with pytest.raises(TypeError, match="Reconnected"):
        sdk.event_key(Reconnected(exchange="kraken", attempt=1, downtime=5, ts_received=1))  # type: ignore[arg-type]


@given(wire_decimals(), st.integers(0, 6))
def test_a_number_is_keyed_by_value_not_by_how_many_zeros_the_venue_printed(price: Decimal, zeros: int) -> None:
    padded = Decimal(f"{price:f}{'.' if '.' not in f'{price:f}' and zeros else ''}{'0' * zeros}")
    assert padded == price
    trade = Trade(
        exchange="kraken-v1", symbol="BTC/USD", price=price, qty=Decimal(1), side="sell", ts_exchange=9, ts_received=1
    )
    assert sdk.event_key(trade) == sdk.event_key(msgspec.structs.replace(trade, price=padded))


TEXT = st.text(min_size=1, max_size=12)
TRADE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "exchange": TEXT,
    "symbol": TEXT,
    "ts_exchange": st.integers(0, 2**62),
    "price": wire_decimals(),
    "qty": wire_decimals(),
    "side": st.sampled_from(["buy", "sell"]),
    "order_type": st.sampled_from(["market", "limit", None]),
}


@given(st.data(), events(Trade), st.sampled_from(sorted(TRADE_FIELDS)))
def test_trades_without_a_venue_id_differ_in_key_when_time_or_fill_differ(
    data: st.DataObject, event: Event, field: str
) -> None:
    trade = msgspec.structs.replace(event, trade_id=None)
    other = msgspec.structs.replace(
        trade, **{field: data.draw(TRADE_FIELDS[field].filter(lambda v: v != getattr(trade, field)))}
    )
    assert sdk.event_key(other) != sdk.event_key(trade)


@given(events(Trade), TEXT, TEXT)
def test_trades_with_a_venue_id_are_that_id(event: Event, trade_id: str, other_id: str) -> None:
    trade = msgspec.structs.replace(event, trade_id=trade_id)
    assert sdk.event_key(msgspec.structs.replace(trade, price=trade.price + 1)) == sdk.event_key(trade)
    assert (sdk.event_key(msgspec.structs.replace(trade, trade_id=other_id)) == sdk.event_key(trade)) == (
        other_id == trade_id
    )
    assert sdk.event_key(msgspec.structs.replace(trade, trade_id=None)) != sdk.event_key(trade)


LEVEL = st.builds(BookLevel, wire_decimals(), wire_decimals(), st.booleans())
BOOK_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "depth": st.integers(1, 1000),
    "bids": st.lists(LEVEL, max_size=4).map(tuple),
    "asks": st.lists(LEVEL, max_size=4).map(tuple),
    "checksum": st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    "ts_exchange": st.one_of(st.none(), st.integers(0, 2**62)),
}


@given(st.data(), st.sampled_from([BookSnapshot, BookUpdate]), st.sampled_from(sorted(BOOK_FIELDS)))
def test_book_events_differ_in_key_when_their_time_checksum_or_levels_differ(
    data: st.DataObject, kind: type[BookSnapshot | BookUpdate], field: str
) -> None:
    book = data.draw(events(kind))
    assert isinstance(book, BookSnapshot | BookUpdate)
    changed = data.draw(BOOK_FIELDS[field].filter(lambda v: _by_value(v) != _by_value(getattr(book, field))))
    assert sdk.event_key(msgspec.structs.replace(book, **{field: changed})) != sdk.event_key(book)
    twin = (BookUpdate if kind is BookSnapshot else BookSnapshot)(**msgspec.structs.asdict(book))
    assert sdk.event_key(twin) != sdk.event_key(book)


def _by_value(value: object) -> object:
    """Levels compared as the key compares them: Decimals by value (BookLevel equality is by text)."""
    if isinstance(value, tuple):
        return tuple((level.price.normalize(), level.qty.normalize(), level.republished) for level in value)
    return value


@given(events(Candle), wire_decimals(), st.integers(0, 2**62))
def test_each_resent_state_of_a_candle_has_its_own_key(event: Event, close: Decimal, sent: int) -> None:
    candle = msgspec.structs.replace(event, ts_exchange=sent)
    assert sdk.event_key(msgspec.structs.replace(candle, ts_exchange=None)) == sdk.event_key(candle)
    moved = msgspec.structs.replace(candle, close=close)
    assert (sdk.event_key(moved) == sdk.event_key(candle)) == (close == candle.close)
    assert sdk.event_key(msgspec.structs.replace(candle, start=candle.start + 1)) != sdk.event_key(candle)


# -- collectors on one venue -----------------------------------------------------------------------

SYMBOL = "BTC/USD"
STREAMS = (sdk.trades(SYMBOL), sdk.book(SYMBOL, 10))
VENUES = [(KrakenSimulator, "kraken"), (KrakenV1Simulator, "kraken-v1"), (MidchainsSimulator, "midchains")]
SAW_BOTH = (Trade, BookUpdate)


async def _two_collectors(
    simulator_class: type[Simulator], exchange: str, record: Path
) -> tuple[list[Event], list[Event]]:
    """Two feeds on one venue, the second connected while the first streams; the market then stops
    and both drain, so every update the second saw after its snapshot, the first saw too."""
    async with simulator_class(tick_interval=0.005) as simulator:
        first = sdk.connect(exchange, simulator.url, allow_plaintext=True, record=record)
        second = sdk.connect(exchange, simulator.url, allow_plaintext=True)
        async with first, second:
            await first.subscribe(*STREAMS)
            early = await collect_until(first, lambda es: len(of(BookUpdate, es)) >= 10, timeout=20)
            await second.subscribe(*STREAMS)
            late = await collect_until(
                second, lambda es: len(of(BookUpdate, es)) >= 40 and bool(of(Trade, es)), timeout=20
            )
            simulator.paused = True
            late += await collect_for(second, 0.3)
            early += await collect_for(first, 0.3)
    return early, late


@pytest.mark.loopback
@pytest.mark.parametrize(("simulator_class", "exchange"), VENUES, ids=[name for _, name in VENUES])
def test_two_collectors_key_the_events_both_saw_alike_and_a_replay_keys_them_as_live(
    simulator_class: type[Simulator], exchange: str, tmp_path: Path
) -> None:
    early, late = anyio.run(_two_collectors, simulator_class, exchange, tmp_path)

    first_keys, second_keys = set(keys(early, SAW_BOTH)), keys(late, SAW_BOTH)
    assert len(second_keys) >= 41
    assert set(second_keys) <= first_keys, "a venue event the second collector saw is keyed differently by the first"

    async def replayed() -> list[Event]:
        async with sdk.replay(tmp_path) as source:
            return [event async for event in source]

    again = anyio.run(replayed)
    assert keys(again)[: len(keys(early))] == keys(early)


def test_a_consolidated_quote_is_xfeeds_own_view_and_has_no_venue_identity() -> None:
    quote = ConsolidatedQuote(
        exchange="consolidated", symbol="BTC/USD", bid=Decimal(1), bid_qty=Decimal(1), bid_venue="kraken",
        ask=Decimal(2), ask_qty=Decimal(1), ask_venue="midchains", crossed=False, locked=False, ts_received=1,
    )  # fmt: skip
    with pytest.raises(TypeError, match="derived by xfeeds"):
        sdk.event_key(quote)
