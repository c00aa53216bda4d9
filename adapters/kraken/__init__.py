"""Kraken's v2 public WebSocket protocol (``wss://ws.kraken.com/v2``), adapter name ``kraken``.

The default Kraken adapter: v2 is where Kraken adds features. Its symbols already use the common
asset codes (``BTC/USD``); its numbers are JSON numbers, read exactly as Decimals; its book
checksums are verified with each pair's precision from the instrument channel. It trades too
(``sdk.account``) over ``wss://ws-auth.kraken.com/v2``.
"""

from __future__ import annotations

from adapters.kraken.channels import SYMBOLS
from adapters.kraken.codec import KrakenCodec
from adapters.kraken.trading import trading
from adapters.kraken_common.limits import BOOK_DEPTHS, CANDLE_INTERVALS, KRAKEN_REQUEST_LIMIT
from sdk.capabilities import Capabilities
from sdk.contract import Adapter

adapter = Adapter(
    name="kraken",
    default_url="wss://ws.kraken.com/v2",
    capabilities=Capabilities(
        channels=frozenset({"trades", "book", "ticker", "quotes", "candles", "instruments"}),
        book_depths=BOOK_DEPTHS,
        candle_intervals=CANDLE_INTERVALS,
    ),
    symbols=SYMBOLS,
    codec=KrakenCodec,
    request_limit=KRAKEN_REQUEST_LIMIT,
    simulator="adapters.kraken.simulator:KrakenSimulator",
    trading=trading,
)
