"""Every event type to Parquet and back: exact decimals, ns times, read by pyarrow, polars and pandas as they are."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdk
from adapters.kraken.simulator import KrakenSimulator
from schemas.events import (
    BookInvalidated,
    BookLevel,
    BookSnapshot,
    BookUpdate,
    Disconnected,
    Event,
    Trade,
)
from sdk.export import ExportResult, export, export_sync
from sdk.testing import collect_until, events
from tests.export.readback import MARKET, book_levels, event_of, levels_of, with_polars, with_pyarrow

NS_PER_DAY = 86_400 * 10**9
Reader = Callable[[Path], list[dict[str, Any]]]


def day_of(event: Event) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=event.ts_received // NS_PER_DAY)


def exported_book(stream: list[Event]) -> list[Event]:
    """The book events a file keeps: each update only after a snapshot of its book in the same day's
    file, and none after an invalidation or a disconnect until the next snapshot."""
    snapshot_day: dict[tuple[str, str, int], dt.date] = {}
    kept: list[Event] = []
    for e in stream:
        if isinstance(e, BookSnapshot):
            snapshot_day[(e.exchange, e.symbol, e.depth)] = day_of(e)
            kept.append(e)
        elif isinstance(e, BookUpdate) and snapshot_day.get((e.exchange, e.symbol, e.depth)) == day_of(e):
            kept.append(e)
        elif isinstance(e, BookInvalidated):
            for key in [k for k in snapshot_day if k[:2] == (e.exchange, e.symbol)]:
                if e.depth in (None, key[2]):
                    del snapshot_day[key]
        elif isinstance(e, Disconnected):
            for key in [k for k in snapshot_day if k[0] == e.exchange]:
                del snapshot_day[key]
    return kept


def assert_round_trip(stream: list[Event], result: ExportResult, read: Reader) -> None:
    """Each file holds exactly its exchange's, channel's and day's events, in order, equal field by field."""
    kept_book = exported_book(stream)
    for file in result.files:
        rows = read(file.path)
        assert len(rows) == file.rows
        mine = [e for e in stream if e.exchange == file.exchange and day_of(e) == file.day]
        if file.channel == "book":
            assert levels_of(rows) == book_levels(e for e in kept_book if e in mine)
        else:
            assert [event_of(file.channel, row) for row in rows] == [
                e for e in mine if isinstance(e, MARKET) and sdk.session.CHANNEL_OF[type(e)] == file.channel
            ]
    with_rows = [e for e in stream if isinstance(e, MARKET) and not isinstance(e, BookSnapshot | BookUpdate)]
    with_rows += [e for e in kept_book if book_levels([e])]
    expected = {(e.exchange, sdk.session.CHANNEL_OF[type(e)], day_of(e)) for e in with_rows}
    assert {(f.exchange, f.channel, f.day) for f in result.files} == expected


@pytest.mark.loopback
@pytest.mark.anyio
async def test_a_live_kraken_feed_round_trips_through_parquet(tmp_path: Path) -> None:
    wanted = {Trade, BookSnapshot, BookUpdate, *MARKET}
    async with KrakenSimulator(tick_interval=0.005) as simulator, sdk.connect("kraken", simulator.url) as feed:
        await feed.subscribe(
            sdk.trades("BTC/USD"),
            sdk.book("BTC/USD", 10),
            sdk.ticker("BTC/USD"),
            sdk.quotes("BTC/USD"),
            sdk.candles("BTC/USD", "1m"),
            sdk.instruments(),
        )
        stream = await collect_until(feed, lambda es: wanted <= {type(e) for e in es} and len(es) > 200)
    result = await export(stream, tmp_path)
    assert {f.channel for f in result.files} == {"trades", "book", "ticker", "quotes", "candles", "instruments"}
    assert all(f.path.is_relative_to(tmp_path / "kraken" / f.channel) for f in result.files)
    assert all(f.path.name == f"{f.day.isoformat()}.parquet" for f in result.files)
    assert result.events == len(stream)
    for read in (with_pyarrow, with_polars):
        assert_round_trip(stream, result, read)
    book = next(f for f in result.files if f.channel == "book")
    frame = pd.read_parquet(book.path)
    assert str(frame["local_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert all(isinstance(price, Decimal) for price in frame["price"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(events(), max_size=30),
    st.sampled_from([1, 3, 1000]),
)
def test_generated_events_round_trip_through_parquet(stream: list[Event], row_group_rows: int) -> None:
    with tempfile.TemporaryDirectory() as out:
        result = export_sync(stream, out, row_group_rows=row_group_rows)
        assert all(not path.name.endswith(".partial") for path in Path(out).rglob("*") if path.is_file())
        assert_round_trip(stream, result, with_pyarrow)
        assert_round_trip(stream, result, with_polars)


def book_event(kind: type[BookSnapshot | BookUpdate], at: int, *levels: str, symbol: str = "BTC/USD") -> Event:
    bids = tuple(BookLevel(Decimal(price), Decimal(qty)) for price, qty in (level.split("@") for level in levels))
    return kind(exchange="kraken", symbol=symbol, ts_received=at, depth=10, bids=bids, asks=())


def test_decimal_columns_widen_as_values_need_and_stay_exact(tmp_path: Path) -> None:
    """A later row group with more places or digits rewrites the file under a wider type; past 38 digits, text."""
    stream = [
        book_event(BookSnapshot, 1, "100.5@1"),
        book_event(BookUpdate, 2, "100.25@0.00000001"),
        book_event(BookUpdate, 3, "123456789012345678901.5@2"),
        book_event(BookUpdate, 4, "1.5@0.000000000000000000000000000000000000000001"),
    ]
    result = export_sync(stream, tmp_path, row_group_rows=1)
    [book] = result.files
    assert book.decimals == {"price": "decimal128(38, 2)", "amount": "string"}
    assert pq.ParquetFile(book.path).num_row_groups == 4
    rows = with_pyarrow(book.path)
    assert [row["price"] for row in rows] == [Decimal(p) for p in ("100.5", "100.25", "123456789012345678901.5", "1.5")]
    assert [Decimal(row["amount"]) for row in rows] == [
        Decimal(q) for q in ("1", "0.00000001", "2", "0.000000000000000000000000000000000000000001")
    ]
    assert list(tmp_path.rglob("*.partial*")) == []


def test_a_file_is_written_under_a_temporary_name_and_renamed_on_close(tmp_path: Path) -> None:
    exporter = sdk.export.Exporter(tmp_path, row_group_rows=1)
    exporter.add(book_event(BookSnapshot, 1, "100.5@1"))
    exporter.add(book_event(BookUpdate, 2, "100.5@2"))
    folder = tmp_path / "kraken" / "book"
    assert sorted(p.name for p in folder.iterdir()) == ["1970-01-01.parquet.partial"]
    result = exporter.close()
    assert sorted(p.name for p in folder.iterdir()) == ["1970-01-01.parquet"]
    assert result.files[0].path == folder / "1970-01-01.parquet" and result.files[0].rows == 2


def test_book_files_start_from_a_snapshot(tmp_path: Path) -> None:
    """Updates before a snapshot, after an invalidation and in a new day's file until its snapshot are
    skipped and counted; the rest are written."""
    next_day = NS_PER_DAY + 5
    stream: list[Event] = [
        book_event(BookUpdate, 1, "1@1"),
        book_event(BookUpdate, 2, "1@2", symbol="ETH/USD"),
        book_event(BookSnapshot, 3, "1@3"),
        book_event(BookUpdate, 4, "1@4"),
        BookInvalidated(exchange="kraken", symbol="BTC/USD", ts_received=5, reason="checksum", depth=10),
        book_event(BookUpdate, 6, "1@6"),
        book_event(BookSnapshot, 7, "1@7"),
        book_event(BookUpdate, next_day, "1@8"),
        book_event(BookSnapshot, next_day + 1, "1@9"),
        book_event(BookUpdate, next_day + 2, "1@10"),
    ]
    result = export_sync(stream, tmp_path)
    assert result.skipped_updates == {("kraken", "BTC/USD"): 3, ("kraken", "ETH/USD"): 1}
    first, second = (with_pyarrow(f.path) for f in result.files)
    assert [(r["is_snapshot"], r["amount"]) for r in first] == [(True, 3), (False, 4), (True, 7)]
    assert [(r["is_snapshot"], r["amount"]) for r in second] == [(True, 9), (False, 10)]


def test_control_events_are_not_exported(tmp_path: Path) -> None:
    stream = [Disconnected(exchange="kraken", ts_received=1, reason="closed")]
    result = export_sync(stream, tmp_path)
    assert result.files == () and result.events == 1 and result.rows == 0
