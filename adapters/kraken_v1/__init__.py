"""Kraken's v1 public WebSocket protocol (``wss://ws.kraken.com``), adapter name ``kraken-v1``.

v1 names assets with Kraken's legacy codes (``XBT/USD``, ``XDG/USD``); users write the shared
``BTC/USD`` and ``DOGE/USD`` and the adapter translates both ways.
"""

from __future__ import annotations

from adapters.kraken_market import KRAKEN_REQUEST_LIMIT
from adapters.kraken_v1.channels import BOOK_DEPTHS, CANDLE_INTERVALS, SYMBOLS
from adapters.kraken_v1.codec import KrakenV1Codec
from adapters.kraken_v1.simulator import KrakenV1Simulator
from sdk.adapter import Adapter
from sdk.capabilities import Capabilities

adapter = Adapter(
    name="kraken-v1",
    default_url="wss://ws.kraken.com",
    capabilities=Capabilities(
        channels=frozenset({"trades", "book", "ticker", "quotes", "candles"}),
        book_depths=BOOK_DEPTHS,
        candle_intervals=CANDLE_INTERVALS,
    ),
    symbols=SYMBOLS,
    new_codec=lambda: KrakenV1Codec(SYMBOLS),
    request_limit=KRAKEN_REQUEST_LIMIT,
    simulator=KrakenV1Simulator,
)
