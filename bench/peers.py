"""The peers xfeeds is measured against, set up the same way in every benchmark."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def cryptofeed_kraken(callback: Callable[..., Awaitable[None]]) -> Any | None:
    """cryptofeed's Kraken (v1) feed for BTC/USD book-10 with checksums verified, trades and
    tickers, every channel calling ``callback``; None when cryptofeed is not installed.

    Its symbols are set offline (no REST call); drive it by awaiting ``message_handler(frame,
    None, timestamp)`` once per frame, as its connection handler does.
    """
    try:
        from cryptofeed.defines import L2_BOOK, TICKER, TRADES
        from cryptofeed.exchanges import Kraken
        from cryptofeed.symbols import Symbols
    except ImportError:
        return None
    Symbols.set(Kraken.id, {"BTC-USD": "XBT/USD"}, {"instrument_type": {"BTC-USD": "spot"}})
    return Kraken(
        symbols=["BTC-USD"],
        channels=[L2_BOOK, TRADES, TICKER],
        callbacks={L2_BOOK: callback, TRADES: callback, TICKER: callback},
        max_depth=10,
        checksum_validation=True,
    )
