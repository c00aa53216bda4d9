"""Normalized events into one file per exchange, channel and UTC day, from any source of events.

A feed, a replay or a plain list all work: the exporter only sees events. Files are
``OUT/<exchange>/<channel>/<YYYY-MM-DD>.parquet`` (or ``.csv.gz``), the day being the UTC day the
event was received, which every event has (exchange times may be missing). Control events (status,
subscriptions, errors) are not market data and are not exported.

Every book file starts from a snapshot: a book update of a symbol is written only after a snapshot
of that symbol (at that depth) in the same file, so each file rebuilds its books on its own. Updates
before it, or after the book was invalidated or the connection lost until the next snapshot, are
skipped and counted per (exchange, symbol).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from schemas.events import BookInvalidated, BookSnapshot, BookUpdate, Disconnected, Event
from sdk.export.csv import CsvTableWriter
from sdk.export.tables import TABLE_OF, Row, Table

Format = Literal["parquet", "csv"]
NS_PER_DAY = 86_400 * 10**9
EPOCH = dt.date(1970, 1, 1)
PROGRESS_EVERY = 4096
"""Events between two calls of the progress callback."""


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One file written: where, what it holds, how many rows, and how its decimal columns are typed
    (``decimal128(18, 8)``; ``string`` for a column with a value beyond 38 digits; ``text`` in CSV)."""

    path: Path
    exchange: str
    channel: str
    day: dt.date
    rows: int
    decimals: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote, and the book updates it left out (per exchange and symbol)."""

    files: tuple[ExportedFile, ...]
    events: int
    skipped_updates: Mapping[tuple[str, str], int]

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """How far an export has come: events read, rows written, book updates skipped, files open."""

    events: int
    rows: int
    skipped_updates: int
    files: int


class TableWriter(Protocol):
    path: Path
    rows: int
    suffix: str

    def write(self, rows: list[Row]) -> None: ...

    def close(self) -> None: ...

    @property
    def decimal_types(self) -> dict[str, str]: ...


def _writer_factory(to: Format, row_group_rows: int | None) -> Callable[[Path, Table], TableWriter]:
    if to == "csv":
        return CsvTableWriter
    if to != "parquet":
        raise ValueError(f"cannot export to {to!r}: choose parquet or csv")
    try:
        from sdk.export.parquet import ROW_GROUP_ROWS, ParquetTableWriter  # noqa: PLC0415  # pyarrow is optional
    except ImportError as missing:
        raise LookupError("Parquet export needs pyarrow: pip install 'xfeeds[parquet]'") from missing
    rows = row_group_rows or ROW_GROUP_ROWS
    return lambda path, table: ParquetTableWriter(path, table, row_group_rows=rows)


def _path_part(name: str) -> str:
    """``name`` as one safe path component (exchange names are plain, but nothing here trusts that)."""
    quoted = urllib.parse.quote(name, safe="-_.")
    return quoted if quoted.strip(".") else quoted.replace(".", "%2E") or "%"  # "%" alone is no quoted name


class Exporter:
    """Writes events into day files under ``out_dir``; ``close`` finishes every file and says what was written."""

    def __init__(self, out_dir: str | Path, *, to: Format = "parquet", row_group_rows: int | None = None) -> None:
        self._out = Path(out_dir)
        self._new_writer = _writer_factory(to, row_group_rows)
        self._suffix = ".csv.gz" if to == "csv" else ".parquet"
        self._writers: dict[tuple[str, str, int], TableWriter] = {}
        self._book_from: dict[tuple[str, str, int], int] = {}
        """The day whose book file holds a snapshot of (exchange, symbol, depth)."""
        self._skipped: Counter[tuple[str, str]] = Counter()
        self._rows = 0
        self.events = 0

    def add(self, event: Event) -> None:
        self.events += 1
        table = TABLE_OF.get(type(event))
        if table is None:
            self._control(event)
            return
        day = event.ts_received // NS_PER_DAY
        if type(event) is BookUpdate and not self._book_continues(event, day):
            return
        if type(event) is BookSnapshot:
            self._book_from[(event.exchange, event.symbol, event.depth)] = day
        rows = table.rows(event)
        if rows:
            self._writer(event.exchange, table, day).write(rows)
            self._rows += len(rows)

    def progress(self) -> ExportProgress:
        return ExportProgress(self.events, self._rows, self._skipped.total(), len(self._writers))

    def close(self) -> ExportResult:
        """Finish every file (renaming it from its temporary name) and report them."""
        files = []
        for (exchange, channel, day), writer in sorted(self._writers.items()):
            writer.close()
            date = EPOCH + dt.timedelta(days=day)
            files.append(ExportedFile(writer.path, exchange, channel, date, writer.rows, writer.decimal_types))
        self._writers.clear()
        return ExportResult(tuple(files), self.events, dict(self._skipped))

    def _book_continues(self, event: BookUpdate, day: int) -> bool:
        """Whether this update's file already holds a snapshot of its book; counts it as skipped if not."""
        if self._book_from.get((event.exchange, event.symbol, event.depth)) == day:
            return True
        self._skipped[(event.exchange, event.symbol)] += 1
        return False

    def _control(self, event: Event) -> None:
        """A book invalidated, or every book of a lost connection, needs a fresh snapshot before its updates."""
        if isinstance(event, BookInvalidated):
            for key in [k for k in self._book_from if k[:2] == (event.exchange, event.symbol)]:
                if event.depth is None or key[2] == event.depth:
                    del self._book_from[key]
        elif isinstance(event, Disconnected):
            for key in [k for k in self._book_from if k[0] == event.exchange]:
                del self._book_from[key]

    def _writer(self, exchange: str, table: Table, day: int) -> TableWriter:
        key = (exchange, table.channel, day)
        writer = self._writers.get(key)
        if writer is None:
            folder = self._out / _path_part(exchange) / table.channel
            folder.mkdir(parents=True, exist_ok=True)
            date = EPOCH + dt.timedelta(days=day)
            writer = self._writers[key] = self._new_writer(folder / f"{date.isoformat()}{self._suffix}", table)
        return writer


async def export(
    source: AsyncIterable[Event] | Iterable[Event],
    out_dir: str | Path,
    *,
    to: Format = "parquet",
    progress: Callable[[ExportProgress], None] | None = None,
    row_group_rows: int | None = None,
) -> ExportResult:
    """Export every market-data event of ``source`` (a feed, a replay, a list) under ``out_dir``.

    Ends when the source does. Files are finished and named also when the export is cancelled or
    the source fails, before that propagates: every row in them is a whole event. ``progress`` is
    called every few thousand events and at the end.
    """
    if not isinstance(source, AsyncIterable):
        return export_sync(source, out_dir, to=to, progress=progress, row_group_rows=row_group_rows)
    exporter = Exporter(out_dir, to=to, row_group_rows=row_group_rows)
    try:
        async for event in source:
            _add(exporter, event, progress)
    finally:
        result = exporter.close()
    return _reported(result, progress)


def export_sync(
    source: Iterable[Event],
    out_dir: str | Path,
    *,
    to: Format = "parquet",
    progress: Callable[[ExportProgress], None] | None = None,
    row_group_rows: int | None = None,
) -> ExportResult:
    """``export`` for blocking code: ``source`` is any iterable of events (a list, a ``SyncFeed``, a sync replay)."""
    exporter = Exporter(out_dir, to=to, row_group_rows=row_group_rows)
    try:
        for event in source:
            _add(exporter, event, progress)
    finally:
        result = exporter.close()
    return _reported(result, progress)


def _add(exporter: Exporter, event: Event, progress: Callable[[ExportProgress], None] | None) -> None:
    exporter.add(event)
    if progress is not None and exporter.events % PROGRESS_EVERY == 0:
        progress(exporter.progress())


def _reported(result: ExportResult, progress: Callable[[ExportProgress], None] | None) -> ExportResult:
    if progress is not None:
        skipped = sum(result.skipped_updates.values())
        progress(ExportProgress(result.events, result.rows, skipped, len(result.files)))
    return result
