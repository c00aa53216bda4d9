"""Kraken's v1 public WebSocket protocol (``wss://ws.kraken.com``), adapter name ``kraken-v1``.

v1 names assets with Kraken's legacy codes (``XBT/USD``, ``XDG/USD``); users write the shared
``BTC/USD`` and ``DOGE/USD`` and the adapter translates both ways.
"""

from __future__ import annotations

from adapters.kraken_common.limits import BOOK_DEPTHS, CANDLE_INTERVALS, KRAKEN_REQUEST_LIMIT
from adapters.kraken_v1.channels import SYMBOLS
from adapters.kraken_v1.codec import KrakenV1Codec
from sdk.capabilities import Capabilities
from sdk.contract import Adapter

adapter = Adapter(
    name="kraken-v1",
    default_url="wss://ws.kraken.com",
    capabilities=Capabilities(
        channels=frozenset({"trades", "book", "ticker", "quotes", "candles"}),
        book_depths=BOOK_DEPTHS,
        candle_intervals=CANDLE_INTERVALS,
    ),
    symbols=SYMBOLS,
    codec=KrakenV1Codec,
    request_limit=KRAKEN_REQUEST_LIMIT,
    simulator="adapters.kraken_v1.simulator:KrakenV1Simulator",
)
