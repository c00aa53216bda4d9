"""One Parquet file of one table, written a row group at a time under a temporary name.

Decimals stay exact: a decimal column is Arrow ``decimal128`` with the smallest scale that holds
every value written so far, at precision 18 (stored as a 64-bit integer, compact) or 38. Which scale a
file needs is known only once its rows have been seen, so the first row group decides, and a later
value that needs more (more decimal places, or more integer digits) widens the column: the rows
already written are rewritten, one row group at a time, under the wider type, which holds them
exactly. A value beyond 38 digits in all turns the column into decimal text (``"0.000…1"``), still
exact, which polars and pandas read as strings. Times are ``timestamp[ns, UTC]``.

Needs the ``parquet`` extra (pyarrow).
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from sdk.export.tables import Row, Table, decimal_text

INTEGER_DIGITS = 18
"""Precision up to which Parquet stores a decimal as a 64-bit integer."""
MAX_DIGITS = 38
"""The most digits ``decimal128`` holds."""
ROW_GROUP_ROWS = 65_536
"""Rows buffered before a row group is written: memory stays bounded whatever the file's size."""
COMPRESSION_LEVEL = 9
"""zstd level: book deltas shrink to about 10 bytes a row, at a cost well below decoding them."""

_ARROW_TYPES: dict[str, Any] = {
    "text": pa.string(),
    "time": pa.timestamp("ns", tz="UTC"),
    "int": pa.int64(),
    "bool": pa.bool_(),
}


def _digits(values: list[Decimal | None]) -> tuple[int, int]:
    """The integer digits and decimal places that hold every value exactly."""
    whole = places = 0
    for value in values:
        if value is None:
            continue
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int), "exchanges send finite numbers"
        places = max(places, -exponent)
        whole = max(whole, len(digits) + exponent)
    return whole, places


def _decimal_type(whole: int, places: int) -> Any:
    """``decimal128`` holding ``whole`` integer digits and ``places`` decimal places; text beyond 38 digits."""
    if whole + places <= INTEGER_DIGITS:
        return pa.decimal128(INTEGER_DIGITS, places)
    if whole + places <= MAX_DIGITS:
        return pa.decimal128(MAX_DIGITS, places)
    return pa.string()


def _wider(current: Any, values: list[Decimal | None]) -> Any:
    """A type that holds what ``current`` holds and ``values`` too."""
    if pa.types.is_string(current):
        return current
    whole, places = _digits(values)
    return _decimal_type(max(whole, current.precision - current.scale), max(places, current.scale))


class ParquetTableWriter:
    """Rows of one ``table`` into ``path``; until ``close`` the file is ``path`` + ``.partial``, so a reader
    never opens a file still being written (a crash leaves the ``.partial`` file behind, not a torn one)."""

    suffix = ".parquet"

    def __init__(self, path: Path, table: Table, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.path = path
        self.rows = 0
        self._partial = path.with_name(path.name + ".partial")
        self._columns = table.columns
        self._pending: list[Row] = []
        self._row_group_rows = row_group_rows
        self._schema: Any = None
        self._writer: Any = None

    def write(self, rows: list[Row]) -> None:
        self._pending.extend(rows)
        self.rows += len(rows)
        if len(self._pending) >= self._row_group_rows:
            self._flush()

    def close(self) -> None:
        """Write what is buffered, finish the file and give it its name."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
            os.replace(self._partial, self.path)

    @property
    def decimal_types(self) -> dict[str, str]:
        """Each decimal column's type as written: ``decimal128(18, 8)``, or ``string`` past 38 digits."""
        if self._schema is None:
            return {}
        return {c.name: str(self._schema.field(c.name).type) for c in self._columns if c.kind == "decimal"}

    def _flush(self) -> None:
        if not self._pending:
            return
        values = [list(column) for column in zip(*self._pending, strict=True)]
        self._pending = []
        if self._writer is None:
            self._schema = pa.schema(
                pa.field(c.name, _decimal_type(*_digits(v)) if c.kind == "decimal" else _ARROW_TYPES[c.kind])
                for c, v in zip(self._columns, values, strict=True)
            )
            self._writer = self._open(self._partial, self._schema)
        arrays = [self._array(index, column_values) for index, column_values in enumerate(values)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def _array(self, index: int, values: list[Any]) -> Any:
        """Column ``index`` of a row group, widening a decimal column that cannot hold ``values``."""
        arrow_type = self._schema.field(index).type
        if self._columns[index].kind != "decimal":
            return pa.array(values, type=arrow_type)
        if pa.types.is_string(arrow_type):
            return pa.array([None if v is None else decimal_text(v) for v in values], type=arrow_type)
        try:
            return pa.array(values, type=arrow_type)
        except pa.ArrowInvalid:  # more places or integer digits than the column has
            self._widen(index, _wider(arrow_type, values))
            return self._array(index, values)

    def _open(self, path: Path, schema: Any) -> Any:
        times = [c.name for c in self._columns if c.kind == "time"]
        return pq.ParquetWriter(
            path,
            schema,
            compression="zstd",
            compression_level=COMPRESSION_LEVEL,
            use_dictionary=[c.name for c in self._columns if c.kind != "time"],
            column_encoding=dict.fromkeys(times, "DELTA_BINARY_PACKED"),
            store_decimal_as_integer=True,
        )

    def _widen(self, index: int, arrow_type: Any) -> None:
        """Give column ``index`` the type ``arrow_type`` and rewrite the row groups written so far under
        it, one at a time, so memory stays bounded."""
        self._writer.close()
        self._schema = self._schema.set(index, pa.field(self._columns[index].name, arrow_type))
        widened = self._partial.with_name(self._partial.name + ".widened")
        self._writer = self._open(widened, self._schema)
        with pq.ParquetFile(self._partial) as written:
            for group in range(written.num_row_groups):
                self._writer.write_table(written.read_row_group(group).cast(self._schema))
        os.replace(widened, self._partial)  # the writer goes on writing the same (now renamed) file
