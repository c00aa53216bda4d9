"""Builders for exchange-agnostic subscription requests.

``sdk.book("BTC/USD", depth=10)`` means the same thing on every exchange; each adapter translates
it into its own wire request, or refuses it up front if it cannot serve it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemas.subscription import Subscription

_SYMBOL = re.compile(r"^[A-Z0-9.]+/[A-Z0-9.]+$")
_INTERVAL = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


CHANNELS = ("trades", "book", "ticker", "quotes", "candles", "instruments")
DEFAULT_DEPTH = 10
DEFAULT_INTERVAL = "1m"

EVERY_SYMBOL = "*"
"""Subscribes every symbol at once, on adapters whose capabilities allow it for that channel."""


def normalize_symbol(symbol: str) -> str:
    """Upper-case ``BASE/QUOTE`` (or ``*``); anything else is refused with a clear error."""
    canonical = symbol.strip().upper()
    if canonical == EVERY_SYMBOL:
        return canonical
    if not _SYMBOL.match(canonical):
        raise ValueError(f"symbol {symbol!r} is not in BASE/QUOTE form, e.g. 'BTC/USD'")
    return canonical


def interval_seconds(interval: str) -> int:
    """Length of an interval written as ``<n><unit>`` with unit s, m, h, d or w."""
    match = _INTERVAL.match(interval.strip().lower())
    if match is None:
        raise ValueError(f"interval {interval!r} is not like '1m', '4h' or '1d'")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_interval(seconds: int) -> str:
    """The canonical spelling of an interval: the largest unit that divides it (3600 -> '1h')."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise ValueError(f"interval of {seconds} s is not a whole number of seconds")


def trades(symbol: str) -> Subscription:
    """Every public trade."""
    return Subscription(channel="trades", symbol=normalize_symbol(symbol))


def book(symbol: str, depth: int = 10) -> Subscription:
    """The L2 order book to ``depth`` levels a side: a snapshot, then updates."""
    if depth < 1:
        raise ValueError(f"book depth must be positive, got {depth}")
    return Subscription(channel="book", symbol=normalize_symbol(symbol), depth=depth)


def ticker(symbol: str) -> Subscription:
    """Top of book with 24-hour statistics."""
    return Subscription(channel="ticker", symbol=normalize_symbol(symbol))


def quotes(symbol: str) -> Subscription:
    """Best bid and ask with sizes, whenever they change."""
    return Subscription(channel="quotes", symbol=normalize_symbol(symbol))


def candles(symbol: str, interval: str = "1m") -> Subscription:
    """OHLC candles of ``interval`` (``1m``, ``5m``, ``1h``, ``1d``, ...)."""
    canonical = format_interval(interval_seconds(interval))
    return Subscription(channel="candles", symbol=normalize_symbol(symbol), interval=canonical)


def instruments() -> Subscription:
    """Reference data (precisions, increments, minimums, state) for every pair the exchange lists."""
    return Subscription(channel="instruments", symbol="*")


def of_channel(
    channel: str, symbols: Sequence[str], *, depth: int | None = None, interval: str | None = None
) -> list[Subscription]:
    """The subscriptions of one channel for each of ``symbols``, as a command line or a fleet file
    names them; ValueError for an option that does not apply to the channel or a missing symbol."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
    if depth is not None and channel != "book":
        raise ValueError(f"depth applies to the book channel, not {channel}")
    if interval is not None and channel != "candles":
        raise ValueError(f"interval applies to the candles channel, not {channel}")
    if channel == "instruments":
        if symbols:
            raise ValueError("instruments takes no SYMBOL: it covers every pair the exchange lists")
        return [instruments()]
    if not symbols:
        raise ValueError(f"{channel} needs at least one SYMBOL, e.g. BTC/USD")
    if channel == "book":
        return [book(symbol, DEFAULT_DEPTH if depth is None else depth) for symbol in symbols]
    if channel == "candles":
        return [candles(symbol, interval or DEFAULT_INTERVAL) for symbol in symbols]
    builders = {"trades": trades, "ticker": ticker, "quotes": quotes}
    return [builders[channel](symbol) for symbol in symbols]
