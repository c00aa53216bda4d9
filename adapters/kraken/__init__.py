"""Kraken's v2 public WebSocket protocol (``wss://ws.kraken.com/v2``), adapter name ``kraken``.

The default Kraken adapter: v2 is where Kraken adds features. Its symbols already use the common
asset codes (``BTC/USD``); its numbers are JSON numbers, read exactly as Decimals; its book
checksums are verified with each pair's precision from the instrument channel.
"""

from __future__ import annotations

from adapters.kraken.channels import BOOK_DEPTHS, CANDLE_INTERVALS, SYMBOLS
from adapters.kraken.codec import KrakenCodec
from adapters.kraken.simulator import KrakenSimulator
from adapters.kraken_market import KRAKEN_REQUEST_LIMIT
from sdk.adapter import Adapter
from sdk.capabilities import Capabilities

adapter = Adapter(
    name="kraken",
    default_url="wss://ws.kraken.com/v2",
    capabilities=Capabilities(
        channels=frozenset({"trades", "book", "ticker", "quotes", "candles", "instruments"}),
        book_depths=BOOK_DEPTHS,
        candle_intervals=CANDLE_INTERVALS,
    ),
    symbols=SYMBOLS,
    new_codec=lambda: KrakenCodec(SYMBOLS),
    request_limit=KRAKEN_REQUEST_LIMIT,
    simulator=KrakenSimulator,
)
