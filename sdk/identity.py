"""Stable event identity: one key per venue event, equal in every process that received it.

Several collectors subscribed to the same stream receive the same venue messages at different
moments; downstream, their copies must be recognised as one event. ``event_key`` builds that key
from what the venue itself says about the event (its trade id, the book's checksum and time, a
candle's interval start...) and never from what depends on the collector (its receive time, its
connection). The rules, and where a venue gives nothing better than its time and the event's
content, are in docs/event-identity.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import quote

import msgspec

from schemas.events import (
    BookLevel,
    BookSnapshot,
    BookUpdate,
    Candle,
    Instrument,
    MarketEvent,
    Quote,
    Ticker,
    Trade,
)
from sdk.session import CHANNEL_OF

Value = str | int | bool | Decimal | None

DIGEST_BYTES = 8
"""Bytes of the content digest in a key: a chance collision between two different contents of one
stream is about 2**-64 per pair, far below the venue-side risks the rules document."""

_ABSENT = "-"
"""A time or checksum the venue did not give (distinct from every number)."""


def event_key(event: MarketEvent) -> str:
    """The event's identity, as short printable text: ``exchange:channel:symbol:...``.

    Equal for every copy of one venue event whichever collector received it, whenever it did;
    different for events the venue tells apart. Control events (connections, subscriptions,
    drops) describe one collector, not the venue, and a ``ConsolidatedQuote`` is xfeeds' own view
    across venues: neither has a key, and they raise ``TypeError``.
    """
    channel = CHANNEL_OF.get(type(event))
    if channel is None:
        raise TypeError(
            f"{type(event).__name__} has no venue identity: it describes one collector's connection, "
            "or is derived by xfeeds from several venues"
        )
    stream = f"{_text(event.exchange)}:{channel}:{_text(event.symbol)}"
    if type(event) is Trade:
        return f"{stream}:{_trade_identity(event)}"
    if type(event) is BookSnapshot or type(event) is BookUpdate:
        kind = "snapshot" if type(event) is BookSnapshot else "update"
        levels = [*_levels(event.bids), "|", *_levels(event.asks)]  # "|" is never a number
        checksum = _ABSENT if event.checksum is None else str(event.checksum)
        return f"{stream}@{event.depth}:{kind}:{_time(event.ts_exchange)}:{checksum}:{_digest(levels)}"
    if type(event) is Candle:
        values = [event.open, event.high, event.low, event.close, event.volume, event.vwap, event.trades]
        return f"{stream}@{_text(event.interval)}:{event.start}:{_digest(values)}"
    if type(event) is Ticker:
        return f"{stream}:{_time(event.ts_exchange)}:{_digest(_ticker_values(event))}"
    if type(event) is Quote:
        values = [event.bid, event.bid_qty, event.ask, event.ask_qty]
        return f"{stream}:{_time(event.ts_exchange)}:{_digest(values)}"
    assert type(event) is Instrument
    return f"{stream}:{_digest(_instrument_values(event))}"


def _trade_identity(trade: Trade) -> str:
    """The venue's trade id where it gives one; else its time and the fill itself."""
    if trade.trade_id is not None:
        return _text(trade.trade_id)
    return f"{_time(trade.ts_exchange)}:{_digest([trade.price, trade.qty, trade.side, trade.order_type])}"


def _ticker_values(ticker: Ticker) -> list[Value]:
    return [
        ticker.bid,
        ticker.bid_qty,
        ticker.ask,
        ticker.ask_qty,
        ticker.last,
        ticker.last_qty,
        ticker.volume_24h,
        ticker.vwap_24h,
        ticker.low_24h,
        ticker.high_24h,
        ticker.open_24h,
        ticker.trades_24h,
    ]


def _instrument_values(instrument: Instrument) -> list[Value]:
    return [
        instrument.base,
        instrument.quote,
        instrument.status,
        instrument.price_precision,
        instrument.qty_precision,
        instrument.price_increment,
        instrument.qty_increment,
        instrument.qty_min,
        instrument.cost_min,
    ]


def _levels(levels: tuple[BookLevel, ...]) -> list[Value]:
    """Levels in wire order, flattened: order matters, a book update applies them in turn."""
    flat: list[Value] = []
    for level in levels:
        flat += [level.price, level.qty, level.republished]
    return flat


def _time(ns: int | None) -> str:
    return _ABSENT if ns is None else str(ns)


def _text(text: str) -> str:
    """Free text made safe for a key: ``:``, ``%``, spaces and anything not ASCII are %-escaped,
    so no text can pass for a separator and two texts never escape alike."""
    return quote(text, safe="/")


def _number(value: Decimal) -> str:
    """A Decimal by value: ``1.50`` and ``1.5`` are one price, ``-0`` is ``0``, never an exponent."""
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


def _digest(values: Sequence[Value]) -> str:
    """A short, deterministic digest of values (Decimals by value, ``None`` distinct from all)."""
    canonical = [_number(v) if isinstance(v, Decimal) else v for v in values]
    return hashlib.blake2b(msgspec.json.encode(canonical), digest_size=DIGEST_BYTES).hexdigest()
