"""Exported files read back with the readers researchers use, as events or level rows to compare with what was exported."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.events import (
    BookSnapshot,
    BookUpdate,
    Candle,
    Event,
    Instrument,
    Quote,
    Ticker,
    Trade,
)

TIMES = ("timestamp", "local_timestamp", "start", "end")
MARKET = (Trade, BookSnapshot, BookUpdate, Quote, Ticker, Candle, Instrument)


def with_pyarrow(path: Path) -> list[dict[str, Any]]:
    """Rows as pyarrow reads them, times as integer ns."""
    table = pq.read_table(path)
    for name in TIMES:
        if name in table.column_names:
            assert table.schema.field(name).type == pa.timestamp("ns", tz="UTC")
            table = table.set_column(table.column_names.index(name), name, table.column(name).cast(pa.int64()))
    return list(table.to_pylist())


def with_polars(path: Path) -> list[dict[str, Any]]:
    """Rows as polars reads them (no options), times as integer ns."""
    frame = pl.read_parquet(path)
    times = [name for name in TIMES if name in frame.columns]
    for name in times:
        assert frame.schema[name] == pl.Datetime("ns", "UTC")
    return list(frame.with_columns(pl.col(times).dt.epoch("ns")).to_dicts())


def book_levels(events: Iterable[Event]) -> list[tuple[Any, ...]]:
    """Book events as tardis-style level rows, written out here independently of the exporter."""
    levels = []
    for e in events:
        if isinstance(e, BookSnapshot | BookUpdate):
            head = (e.exchange, e.symbol, e.ts_exchange, e.ts_received, isinstance(e, BookSnapshot))
            for side, side_levels in (("bid", e.bids), ("ask", e.asks)):
                levels += [(*head, side, lv.price, lv.qty, e.depth, e.checksum, lv.republished) for lv in side_levels]
    return levels


def levels_of(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount")
    return [(*(row[k] for k in keys), row["depth"], row["checksum"], row["republished"]) for row in rows]


def event_of(channel: str, row: dict[str, Any]) -> Event:
    """The event a row of a non-book channel was written from."""
    common = {
        "exchange": row["exchange"],
        "symbol": row["symbol"],
        "ts_exchange": row["timestamp"],
        "ts_received": row["local_timestamp"],
    }
    if channel == "trades":
        side = None if row["side"] == "unknown" else row["side"]
        return Trade(
            **common,
            price=row["price"],
            qty=row["amount"],
            side=side,
            order_type=row["order_type"],
            trade_id=row["id"],
        )
    if channel == "quotes":
        return Quote(
            **common, bid=row["bid_price"], bid_qty=row["bid_amount"], ask=row["ask_price"], ask_qty=row["ask_amount"]
        )
    if channel == "ticker":
        return Ticker(
            **common,
            bid=row["bid_price"],
            bid_qty=row["bid_amount"],
            ask=row["ask_price"],
            ask_qty=row["ask_amount"],
            last=row["last_price"],
            last_qty=row["last_amount"],
            volume_24h=row["volume_24h"],
            vwap_24h=row["vwap_24h"],
            low_24h=row["low_24h"],
            high_24h=row["high_24h"],
            open_24h=row["open_24h"],
            trades_24h=row["trades_24h"],
        )
    if channel == "candles":
        names = ("interval", "start", "end", "open", "high", "low", "close", "volume", "vwap", "trades")
        return Candle(**common, **{name: row[name] for name in names})
    assert channel == "instruments"
    return Instrument(
        **common,
        base=row["base"],
        quote=row["quote"],
        status=row["status"],
        price_precision=row["price_precision"],
        qty_precision=row["amount_precision"],
        price_increment=row["price_increment"],
        qty_increment=row["amount_increment"],
        qty_min=row["amount_min"],
        cost_min=row["cost_min"],
    )
