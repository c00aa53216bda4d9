"""Exchange-agnostic requests and the capability check that guards every adapter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sdk
from sdk import registry
from sdk.subscriptions import format_interval, interval_seconds
from sdk.symbols import AliasedSymbols


def test_builders_normalize() -> None:
    assert sdk.trades(" btc/usd ").symbol == "BTC/USD"
    assert sdk.book("ETH/USD").depth == 10
    assert sdk.candles("BTC/USD", "60m").interval == "1h"
    assert sdk.candles("BTC/USD", "1440m").interval == "1d"
    assert str(sdk.book("BTC/USD", 25)) == "book:BTC/USD@25"


@pytest.mark.parametrize("bad", ["BTCUSD", "BTC-USD", "BTC/", "/USD", ""])
def test_bad_symbols_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        sdk.trades(bad)


def test_bad_interval_and_depth() -> None:
    with pytest.raises(ValueError, match="interval"):
        sdk.candles("BTC/USD", "1 minute")
    with pytest.raises(ValueError, match="depth"):
        sdk.book("BTC/USD", 0)


@given(st.integers(1, 10**6), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_interval_canonical_form_is_stable(count: int, unit: str) -> None:
    seconds = interval_seconds(f"{count}{unit}")
    assert interval_seconds(format_interval(seconds)) == seconds


def test_capability_errors_name_what_is_supported() -> None:
    adapter = registry.get("kraken-v1")
    with pytest.raises(sdk.UnsupportedSubscription, match=r"depths are 10, 25, 100, 500, 1000"):
        adapter.check(sdk.book("BTC/USD", 11))
    with pytest.raises(sdk.UnsupportedSubscription, match=r"intervals are 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w, 15d"):
        adapter.check(sdk.candles("BTC/USD", "2h"))
    adapter.check(sdk.candles("BTC/USD", "21600m"))
    narrow = sdk.Capabilities(channels=frozenset({"trades"}))
    with pytest.raises(sdk.UnsupportedSubscription, match="no 'book' channel; it serves trades"):
        narrow.check("x", sdk.book("BTC/USD"))


assets = st.sampled_from(["BTC", "DOGE", "ETH", "USD", "EUR", "XRP", "ADA"])


@given(assets, assets)
def test_kraken_v1_symbols_round_trip(base: str, quote: str) -> None:
    symbols = registry.get("kraken-v1").symbols
    wire = symbols.to_wire(f"{base}/{quote}")
    assert "BTC" not in wire and "DOGE" not in wire
    assert symbols.from_wire(wire) == f"{base}/{quote}"


def test_aliases() -> None:
    symbols = AliasedSymbols({"XBT": "BTC", "XDG": "DOGE"})
    assert symbols.to_wire("BTC/USD") == "XBT/USD"
    assert symbols.from_wire("XDG/XBT") == "DOGE/BTC"
    assert symbols.from_wire("XBTUSDT") == "XBTUSDT"
