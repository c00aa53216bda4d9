"""CSV files as tardis' datasets spell them: its column names and order, microsecond times, exact decimals."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import polars as pl

from schemas.events import BookLevel, BookSnapshot, BookUpdate, Event, Quote, Trade
from sdk.export import export_sync

T = 1_764_460_800_123_456_789  # 2025-11-30T00:00:00.123456789Z


def read(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", newline="") as file:
        return list(csv.reader(file))


def test_trades_book_and_quotes_have_tardis_columns_and_values(tmp_path: Path) -> None:
    stream: list[Event] = [
        Trade(
            exchange="kraken",
            symbol="BTC/USD",
            ts_exchange=T - 5000,
            ts_received=T,
            price=Decimal("90000.10"),
            qty=Decimal("0.00012300"),
            side="sell",
            trade_id="42",
        ),
        Trade(
            exchange="kraken", symbol="BTC/USD", ts_received=T, price=Decimal("1E+2"), qty=Decimal("1E-8"), side=None
        ),
        BookSnapshot(
            exchange="kraken",
            symbol="BTC/USD",
            ts_received=T,
            depth=10,
            checksum=7,
            bids=(BookLevel(Decimal("1.5"), Decimal("2")),),
            asks=(BookLevel(Decimal("1.6"), Decimal("3")),),
        ),
        BookUpdate(
            exchange="kraken",
            symbol="BTC/USD",
            ts_received=T + 1000,
            depth=10,
            bids=(BookLevel(Decimal("1.5"), Decimal("0")),),
            asks=(),
        ),
        Quote(
            exchange="kraken",
            symbol="BTC/USD",
            ts_received=T,
            bid=Decimal("1.5"),
            bid_qty=Decimal("2"),
            ask=Decimal("1.6"),
            ask_qty=Decimal("3"),
        ),
    ]
    result = export_sync(stream, tmp_path, to="csv")
    paths = {f.channel: f.path for f in result.files}
    assert paths["trades"] == tmp_path / "kraken" / "trades" / "2025-11-30.csv.gz"
    assert read(paths["trades"]) == [
        ["exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount", "order_type"],
        ["kraken", "BTC/USD", "1764460800123451", "1764460800123456", "42", "sell", "90000.10", "0.00012300", ""],
        ["kraken", "BTC/USD", "1764460800123456", "1764460800123456", "", "unknown", "100", "0.00000001", ""],
    ]
    assert read(paths["book"]) == [
        [
            "exchange",
            "symbol",
            "timestamp",
            "local_timestamp",
            "is_snapshot",
            "side",
            "price",
            "amount",
            "depth",
            "checksum",
            "republished",
        ],
        ["kraken", "BTC/USD", "1764460800123456", "1764460800123456", "true", "bid", "1.5", "2", "10", "7", "false"],
        ["kraken", "BTC/USD", "1764460800123456", "1764460800123456", "true", "ask", "1.6", "3", "10", "7", "false"],
        ["kraken", "BTC/USD", "1764460800123457", "1764460800123457", "false", "bid", "1.5", "0", "10", "", "false"],
    ]
    assert read(paths["quotes"]) == [
        ["exchange", "symbol", "timestamp", "local_timestamp", "ask_amount", "ask_price", "bid_price", "bid_amount"],
        ["kraken", "BTC/USD", "1764460800123456", "1764460800123456", "3", "1.6", "1.5", "2"],
    ]
    frame = pl.read_csv(paths["book"])  # the gzip is read as it is
    assert frame["is_snapshot"].to_list() == [True, True, False]
    assert list(tmp_path.rglob("*.partial")) == []
