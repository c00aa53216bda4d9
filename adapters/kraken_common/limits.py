"""What Kraken accepts, the same on both protocols: book depths, candle intervals, request pace."""

from __future__ import annotations

from sdk.pacing import RequestLimit
from sdk.subscriptions import format_interval

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
OHLC_MINUTES = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
"""Candle intervals in minutes, as both protocols name them on the wire."""
CANDLE_INTERVALS = tuple(format_interval(minutes * 60) for minutes in OHLC_MINUTES)
"""The same intervals as shared interval names (``1m`` ... ``15d``)."""

KRAKEN_REQUEST_LIMIT = RequestLimit(per_second=10, burst=20)
"""Kraken's request limit is dynamic and unpublished, and bursts of subscribe frames are known to
get a random subset refused ("Exceeded msg rate"): a conservative pace, with room for a burst."""
