"""Every captured Kraken v2 message decodes, with exact values; the v2 book capture verifies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas import (
    BookSnapshot,
    BookUpdate,
    Candle,
    ErrorEvent,
    Event,
    Instrument,
    Status,
    Subscribed,
    Subscription,
    SubscriptionError,
    Ticker,
    Trade,
)
from sdk import registry, subscriptions, testing
from sdk.books import BookKeeper
from tests.conftest import fixture_lines

RECEIVED = 7
INSTRUMENT_BTC = (
    '{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","base":"BTC",'
    '"quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":1,'
    '"price_increment":0.1,"qty_min":0.0001,"cost_min":0.5}]}}'
)


def codec() -> object:
    return registry.get("kraken").new_codec()


def decode_all(name: str) -> list[Event]:
    c = registry.get("kraken").new_codec()
    return [e for line in fixture_lines(f"kraken/{name}") for e in testing.decode(c, line, RECEIVED)]


@pytest.mark.parametrize(
    "name",
    [
        "v2_book.jsonl",
        "v2_book_trimmed.jsonl",
        "v2_ticker.jsonl",
        "v2_trade.jsonl",
        "v2_ohlc.jsonl",
    ],
)
def test_data_fixtures_decode_without_error(name: str) -> None:
    events = decode_all(name)
    assert events
    assert not [e for e in events if isinstance(e, ErrorEvent | SubscriptionError)]
    assert all(e.exchange == "kraken" and e.ts_received == RECEIVED for e in events)


def test_connection_fixture() -> None:
    events = decode_all("v2_connection.jsonl")
    statuses = [e for e in events if isinstance(e, Status)]
    assert [s.state for s in statuses] == ["online", "online"]
    assert "2.0.10" in statuses[1].detail
    [subscribed] = [e for e in events if isinstance(e, Subscribed)]
    assert subscribed.subscription == subscriptions.trades("BTC/USD")
    refusals = [e for e in events if isinstance(e, SubscriptionError)]
    assert [r.message for r in refusals] == [
        "Currency pair not supported XBT/USD",
        "Private data and trading are unavailable on this endpoint. Try ws-auth.kraken.com",
        "Already subscribed",
        "Unsupported event",
    ]
    assert refusals[0].symbol == "XBT/USD"
    [ping_error] = [e for e in events if isinstance(e, ErrorEvent)]
    assert "Unsupported field: 'params'" in ping_error.message


def test_trades() -> None:
    trades = [e for e in decode_all("v2_trade.jsonl") if isinstance(e, Trade)]
    assert len(trades) == 5
    assert trades[0] == Trade(
        exchange="kraken",
        symbol="BTC/USD",
        price=Decimal("68466.9"),
        qty=Decimal("0.01919415"),
        side="sell",
        order_type="market",
        trade_id="70635251",
        ts_exchange=1_716_813_190_826_003_000,
        ts_received=RECEIVED,
    )
    assert str(trades[-1].qty) == "0.00044780"  # trailing zeros of the JSON number kept


def test_ticker_with_and_without_timestamp() -> None:
    tickers = [e for e in decode_all("v2_ticker.jsonl") if isinstance(e, Ticker)]
    first, _, last = tickers
    assert (first.bid, first.bid_qty, first.ask) == (Decimal("65972.8"), Decimal("0.10000000"), Decimal("65972.9"))
    assert first.open_24h == Decimal("65972.9") - Decimal("4412.1")
    assert first.ts_exchange is None
    assert last.trades_24h == 135262
    assert last.ts_exchange == 1_790_358_506_844_359_000


def test_candles_keep_nanosecond_interval_begin() -> None:
    events = decode_all("v2_ohlc.jsonl")
    candles = [e for e in events if isinstance(e, Candle)]
    assert candles[0].symbol == "ETH/USD" and candles[0].interval == "1m"
    assert candles[0].open == Decimal("3027.80")
    assert candles[0].end - candles[0].start == 60 * 10**9
    assert candles[-1].ts_exchange == 1_791_309_962_918_011_000
    [subscribed] = [e for e in events if isinstance(e, Subscribed)]
    assert subscribed.warnings == ("timestamp is deprecated, use interval_begin",)
    assert subscribed.subscription == Subscription(channel="candles", symbol="BTC/USD", interval="1m")


def test_instruments_feed_checksum_precision_and_emit_events_when_asked() -> None:
    c = registry.get("kraken").new_codec()
    [line] = fixture_lines("kraken/v2_instrument.jsonl")
    assert testing.decode(c, line, 0) == []  # not asked for: learned silently
    assert c.book_checksum("EUR/USD") is not None
    c.subscribe([subscriptions.instruments()])
    instruments = [e for e in testing.decode(c, line, 0) if isinstance(e, Instrument)]
    assert {i.symbol for i in instruments} == {"EUR/USD", "ETH/BTC"}
    eur = next(i for i in instruments if i.symbol == "EUR/USD")
    assert (eur.base, eur.quote, eur.price_precision, eur.qty_precision) == ("EUR", "USD", 5, 8)
    assert eur.qty_increment == Decimal("0.00000001")


def test_v2_book_capture_verifies_every_checksum_with_instrument_precision() -> None:
    c = registry.get("kraken").new_codec()
    testing.decode(c, INSTRUMENT_BTC, 0)
    keeper = BookKeeper("kraken")
    keeper.track("BTC/USD", 10, verify=True)
    updates = 0
    for line in fixture_lines("kraken/v2_book.jsonl"):
        for event in testing.decode(c, line, 0):
            if isinstance(event, BookSnapshot):
                assert keeper.on_snapshot(event, c.book_checksum("BTC/USD")) is None
            elif isinstance(event, BookUpdate):
                updates += 1
                assert keeper.on_update(event) is None, line
    assert updates == 509
    assert (keeper.stats.checks, keeper.stats.failures) == (510, 0)


def test_book_without_precision_is_reported_not_guessed() -> None:
    c = registry.get("kraken").new_codec()
    keeper = BookKeeper("kraken")
    keeper.track("BTC/USD", 10, verify=True)
    [snapshot] = testing.decode(c, fixture_lines("kraken/v2_book.jsonl")[0], 0)
    assert isinstance(snapshot, BookSnapshot)
    problem = keeper.on_snapshot(snapshot, c.book_checksum("BTC/USD"))
    assert problem is not None and problem.reason == "unverifiable"
    assert not keeper.view("BTC/USD").valid
