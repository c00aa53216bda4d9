"""Every captured Kraken v1 message decodes, with exact values on representative lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas import (
    BookSnapshot,
    BookUpdate,
    Candle,
    ErrorEvent,
    Event,
    Quote,
    Status,
    Subscribed,
    Subscription,
    SubscriptionError,
    Ticker,
    Trade,
    Unsubscribed,
)
from sdk import registry, testing
from tests.conftest import FIXTURES, fixture_lines

V1_FILES = sorted(path.name for path in (FIXTURES / "kraken").glob("v1_*.jsonl"))
RECEIVED = 1_700_000_000_123_456_789


def decode(line: str) -> list[Event]:
    return testing.decode(registry.get("kraken-v1").new_codec(), line, RECEIVED)


def test_fixture_files_are_present() -> None:
    assert len(V1_FILES) == 8


@pytest.mark.parametrize("name", V1_FILES)
def test_every_line_decodes_without_error(name: str) -> None:
    codec = registry.get("kraken-v1").new_codec()
    for line in fixture_lines(f"kraken/{name}"):
        events = testing.decode(codec, line.encode(), RECEIVED)
        assert not [e for e in events if isinstance(e, ErrorEvent)], line
        assert all(e.exchange == "kraken-v1" and e.ts_received == RECEIVED for e in events)


def test_book_fixture_counts() -> None:
    codec = registry.get("kraken-v1").new_codec()
    events = [e for line in fixture_lines("kraken/v1_book.jsonl") for e in testing.decode(codec, line, 0)]
    updates = [e for e in events if isinstance(e, BookUpdate)]
    assert len(updates) == 979
    assert all(u.checksum is not None for u in updates)
    assert sum(level.republished for u in updates for level in (*u.bids, *u.asks)) == 223
    assert len([e for e in events if isinstance(e, BookSnapshot)]) == 1


def test_trade_frame_with_two_fills() -> None:
    (line,) = [x for x in fixture_lines("kraken/v1_misc.jsonl") if '"ETH/USD"]' in x and "trade" in x]
    first = next(x for x in fixture_lines("kraken/v1_misc.jsonl") if "119930881" in x)
    [buy, sell] = decode(first)
    assert buy == Trade(
        exchange="kraken-v1",
        symbol="BTC/USD",
        price=Decimal("83942.80000"),
        qty=Decimal("0.00044674"),
        side="buy",
        order_type="limit",
        ts_exchange=1_790_401_261_643_178_000,
        ts_received=RECEIVED,
    )
    assert (sell.side, sell.order_type, str(sell.qty)) == ("sell", "market", "0.00010000")
    [eth] = decode(line)
    assert isinstance(eth, Trade) and eth.symbol == "ETH/USD"


def test_ticker() -> None:
    line = next(x for x in fixture_lines("kraken/v1_misc.jsonl") if '"ticker","XBT/USD"' in x and "37080" in x)
    [ticker] = decode(line)
    assert isinstance(ticker, Ticker)
    assert ticker.symbol == "BTC/USD"
    assert (ticker.bid, ticker.bid_qty) == (Decimal("37080.10000"), Decimal("24.49109974"))
    assert (ticker.ask, ticker.ask_qty) == (Decimal("37080.20000"), Decimal("0.49479977"))
    assert (ticker.last, ticker.last_qty) == (Decimal("37080.10000"), Decimal("0.01268510"))
    assert ticker.volume_24h == Decimal("1394.36071246")
    assert ticker.vwap_24h == Decimal("37042.48940")
    assert (ticker.low_24h, ticker.high_24h, ticker.open_24h) == (
        Decimal("36658.00000"),
        Decimal("37289.70000"),
        Decimal("37160.10000"),
    )
    assert ticker.trades_24h == 21019
    assert ticker.ts_exchange is None


def test_spread_becomes_quote() -> None:
    line = next(x for x in fixture_lines("kraken/v1_spread.jsonl") if x.startswith("[13959178"))
    [quote] = decode(line)
    assert quote == Quote(
        exchange="kraken-v1",
        symbol="ETH/USD",
        bid=Decimal("2687.94000"),
        bid_qty=Decimal("1.95021283"),
        ask=Decimal("2687.95000"),
        ask_qty=Decimal("0.55812016"),
        ts_exchange=1_790_401_259_878_200_000,
        ts_received=RECEIVED,
    )


def test_ohlc_candle_start_is_end_minus_interval() -> None:
    line = next(x for x in fixture_lines("kraken/v1_ohlc.jsonl") if "1621988141" in x)
    [candle] = decode(line)
    assert isinstance(candle, Candle)
    assert candle.interval == "1m"
    assert candle.end == 1_621_988_160_000_000_000
    assert candle.start == candle.end - 60_000_000_000
    assert candle.ts_exchange == 1_621_988_141_603_324_000
    assert (candle.open, candle.high, candle.low, candle.close) == (
        Decimal("38220.70000"),
        Decimal("38348.80000"),
        Decimal("38220.70000"),
        Decimal("38320.40000"),
    )
    assert (candle.vwap, candle.volume, candle.trades) == (Decimal("38330.59222"), Decimal("3.23539643"), 42)


def test_book_snapshot_and_empty_snapshot() -> None:
    lines = fixture_lines("kraken/v1_misc.jsonl")
    [empty] = decode(next(x for x in lines if "PERP/EUR" in x))
    assert isinstance(empty, BookSnapshot)
    assert (empty.symbol, empty.depth, empty.bids, empty.asks, empty.ts_exchange) == (
        "PERP/EUR",
        25,
        (),
        (),
        None,
    )
    [snapshot] = decode(next(x for x in lines if '"as":[["39090.60000"' in x))
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.asks[0].price == Decimal("39090.60000")
    assert str(snapshot.asks[0].qty) == "0.00007039"
    assert snapshot.bids[0].price == Decimal("39071.40000")
    assert snapshot.ts_exchange == 1_622_714_255_963_942_000
    assert snapshot.checksum is None


def test_two_payload_book_update_carries_both_sides_and_checksum() -> None:
    line = next(x for x in fixture_lines("kraken/v1_misc.jsonl") if "2479000840" in x)
    [update] = decode(line)
    assert isinstance(update, BookUpdate)
    assert update.asks[0].price == update.bids[0].price == Decimal("38800.00000")
    assert (update.asks[0].qty, update.bids[0].qty) == (Decimal("0.02203518"), Decimal("0.03017320"))
    assert update.checksum == 2479000840
    assert update.depth == 25
    assert update.ts_exchange == 1_622_766_170_577_304_000


def test_republished_level_and_deletion() -> None:
    line = next(x for x in fixture_lines("kraken/v1_misc.jsonl") if "1339898949" in x)
    [update] = decode(line)
    assert isinstance(update, BookUpdate)
    deleted, republished = update.asks
    assert deleted.qty == 0 and not deleted.republished
    assert republished.republished and republished.price == Decimal("37110.40000")
    assert update.bids == ()


def test_connection_messages() -> None:
    lines = fixture_lines("kraken/v1_connection.jsonl")
    events = [e for line in lines for e in decode(line)]
    statuses = [e for e in events if isinstance(e, Status)]
    assert [s.state for s in statuses] == ["online"] * 3
    assert "1.9.6" in statuses[2].detail
    assert decode('{"event":"heartbeat"}') == []
    assert decode('{"event":"pong","reqid":1693415329704}') == []
    subscribed = [e for e in events if isinstance(e, Subscribed)]
    assert Subscription(channel="book", symbol="WAVES/EUR", depth=1000) in [s.subscription for s in subscribed]
    unsubscribed = [e for e in events if isinstance(e, Unsubscribed)]
    assert [u.subscription for u in unsubscribed] == [
        Subscription(channel="trades", symbol="BTC/USD"),
        Subscription(channel="book", symbol="BTC/USD", depth=10),
    ]
    errors = [e for e in events if isinstance(e, SubscriptionError)]
    assert errors[0].message == "Currency pair not supported LSK/XBT"
    assert errors[0].symbol == "LSK/BTC"
    assert errors[0].subscription == Subscription(channel="book", symbol="LSK/BTC", depth=10)
    assert errors[1].message == "Currency pair not in ISO 4217-A3 format XBTUSDT"
    assert errors[1].symbol == "XBTUSDT"


def test_exchange_error_event_keeps_text() -> None:
    [error] = decode('{"errorMessage":"Exceeded msg rate","event":"error","reqid":42}')
    assert isinstance(error, ErrorEvent)
    assert "Exceeded msg rate" in error.message
    assert error.raw.startswith('{"errorMessage"')


def test_depth1000_fixture_symbols_normalized() -> None:
    codec = registry.get("kraken-v1").new_codec()
    symbols = {
        e.symbol
        for line in fixture_lines("kraken/v1_book_depth1000.jsonl")
        for e in testing.decode(codec, line, 0)
        if isinstance(e, BookUpdate)
    }
    assert "BTC/CHF" in symbols and "KSM/BTC" in symbols and "ADA/BTC" in symbols
    assert not any("XBT" in s for s in symbols)
