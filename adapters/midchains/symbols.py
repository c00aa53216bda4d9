"""Midchains securities are BASE and QUOTE run together: ``BCHUSD`` is ``BCH/USD``."""

from __future__ import annotations

from collections.abc import Sequence

QUOTES = ("USDT", "USDC", "DOGE", "USD", "AED", "EUR", "BTC", "ETH", "BCH", "LTC", "SOL")
"""Assets a security may end with; the longest match wins (``BTCUSDT`` is ``BTC/USDT``)."""


class ConcatenatedSymbols:
    """Splits a security at the longest known quote suffix; joins a symbol by dropping the ``/``."""

    def __init__(self, quotes: Sequence[str] = QUOTES) -> None:
        self._quotes = sorted(quotes, key=len, reverse=True)
        self._cache: dict[str, str] = {}

    def to_wire(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def from_wire(self, wire: str) -> str:
        symbol = self._cache.get(wire)
        if symbol is None:
            symbol = wire
            for quote in self._quotes:
                if wire.endswith(quote) and len(wire) > len(quote):
                    symbol = f"{wire[: -len(quote)]}/{quote}"
                    break
            if len(self._cache) < 4096:
                self._cache[wire] = symbol
        return symbol


SYMBOLS = ConcatenatedSymbols()
