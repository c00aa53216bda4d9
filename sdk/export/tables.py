"""What an exported file holds: one flat table per channel, with the column names of tardis' CSV datasets.

Researchers already have code for tardis' ``trades``, ``incremental_book_L2`` and ``quotes`` files, so
those tables start with tardis' columns in tardis' order (``exchange, symbol, timestamp,
local_timestamp`` and then the channel's own); what xfeeds knows beyond them (a book's subscribed
depth and checksum, a trade's order type) follows. Parquet and CSV files of a channel have the same
columns; only how values are spelled differs. Channels tardis has no dataset for (ticker, candles,
instruments) use the same vocabulary: ``price``/``amount``, ``bid_price``/``bid_amount``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from schemas.events import BookSnapshot, BookUpdate, Candle, Event, Instrument, Quote, Ticker, Trade
from schemas.subscription import Channel

ColumnKind = Literal["text", "decimal", "time", "int", "bool"]
"""``time`` is integer ns since the Unix epoch, UTC; ``decimal`` an exact ``Decimal``."""

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class Table:
    """The file layout of one channel: its columns, and the rows one event of it becomes."""

    channel: Channel
    columns: tuple[Column, ...]
    rows: Callable[[Any], list[Row]]


def _columns(*spec: str) -> tuple[Column, ...]:
    """Columns from ``name:kind`` pairs, after the four every table starts with."""
    common = ("exchange:text", "symbol:text", "timestamp:time", "local_timestamp:time")
    pairs = (item.split(":") for item in (*common, *spec))
    return tuple(Column(name, kind) for name, kind in pairs)  # type: ignore[arg-type]  # kinds are literal above


def _head(event: Trade | BookSnapshot | BookUpdate | Quote | Ticker | Candle | Instrument) -> Row:
    return (event.exchange, event.symbol, event.ts_exchange, event.ts_received)


def _trade_rows(event: Trade) -> list[Row]:
    return [(*_head(event), event.trade_id, event.side or "unknown", event.price, event.qty, event.order_type)]


def _book_rows(event: BookSnapshot | BookUpdate) -> list[Row]:
    """One row per level, bids then asks in wire order: the level deltas of tardis' ``incremental_book_L2``."""
    head = (*_head(event), type(event) is BookSnapshot)
    tail = (event.depth, event.checksum)
    bids = [(*head, "bid", level.price, level.qty, *tail, level.republished) for level in event.bids]
    return bids + [(*head, "ask", level.price, level.qty, *tail, level.republished) for level in event.asks]


def _quote_rows(event: Quote) -> list[Row]:
    return [(*_head(event), event.ask_qty, event.ask, event.bid, event.bid_qty)]


def _ticker_rows(event: Ticker) -> list[Row]:
    return [
        (
            *_head(event),
            *(event.bid, event.bid_qty, event.ask, event.ask_qty, event.last, event.last_qty),
            *(event.volume_24h, event.vwap_24h, event.low_24h, event.high_24h, event.open_24h, event.trades_24h),
        )
    ]


def _candle_rows(event: Candle) -> list[Row]:
    return [
        (
            *_head(event),
            *(event.interval, event.start, event.end, event.open, event.high, event.low, event.close),
            *(event.volume, event.vwap, event.trades),
        )
    ]


def _instrument_rows(event: Instrument) -> list[Row]:
    return [
        (
            *_head(event),
            *(event.base, event.quote, event.status, event.price_precision, event.qty_precision),
            *(event.price_increment, event.qty_increment, event.qty_min, event.cost_min),
        )
    ]


TRADES = Table(
    "trades",
    _columns("id:text", "side:text", "price:decimal", "amount:decimal", "order_type:text"),
    _trade_rows,
)
BOOK = Table(
    "book",
    _columns(
        "is_snapshot:bool",
        "side:text",
        "price:decimal",
        "amount:decimal",
        "depth:int",
        "checksum:int",
        "republished:bool",
    ),
    _book_rows,
)
QUOTES = Table(
    "quotes",
    _columns("ask_amount:decimal", "ask_price:decimal", "bid_price:decimal", "bid_amount:decimal"),
    _quote_rows,
)
TICKER = Table(
    "ticker",
    _columns(
        "bid_price:decimal",
        "bid_amount:decimal",
        "ask_price:decimal",
        "ask_amount:decimal",
        "last_price:decimal",
        "last_amount:decimal",
        "volume_24h:decimal",
        "vwap_24h:decimal",
        "low_24h:decimal",
        "high_24h:decimal",
        "open_24h:decimal",
        "trades_24h:int",
    ),
    _ticker_rows,
)
CANDLES = Table(
    "candles",
    _columns(
        "interval:text",
        "start:time",
        "end:time",
        "open:decimal",
        "high:decimal",
        "low:decimal",
        "close:decimal",
        "volume:decimal",
        "vwap:decimal",
        "trades:int",
    ),
    _candle_rows,
)
INSTRUMENTS = Table(
    "instruments",
    _columns(
        "base:text",
        "quote:text",
        "status:text",
        "price_precision:int",
        "amount_precision:int",
        "price_increment:decimal",
        "amount_increment:decimal",
        "amount_min:decimal",
        "cost_min:decimal",
    ),
    _instrument_rows,
)

TABLE_OF: dict[type[Event], Table] = {
    Trade: TRADES,
    BookSnapshot: BOOK,
    BookUpdate: BOOK,
    Quote: QUOTES,
    Ticker: TICKER,
    Candle: CANDLES,
    Instrument: INSTRUMENTS,
}
"""The table each market-data event goes to; control events (status, errors, ...) are not exported."""


def decimal_text(value: Decimal) -> str:
    """``value`` in positional notation with every digit it has (``1E-7`` would be read as a float)."""
    return format(value, "f")
