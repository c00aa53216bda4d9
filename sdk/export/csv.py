"""One gzipped CSV file of one table, spelled as tardis spells its CSV datasets.

tardis' format: comma-separated, LF line ends, a header row, times as integer microseconds since
the Unix epoch (UTC), ``timestamp`` falling back to ``local_timestamp`` when the exchange gives no
time, ``true``/``false``, ``.`` as the decimal mark, files gzipped. Decimals are written with every
digit the exchange sent (``0.00012300``), never in exponent notation. Microseconds drop the last
three digits of xfeeds' ns times: the Parquet export keeps them.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdk.export.tables import ColumnKind, Row, Table, decimal_text


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_SPELLING: dict[ColumnKind, Callable[[Any], str]] = {
    "text": _text,
    "decimal": lambda value: "" if value is None else decimal_text(value),
    "time": lambda value: "" if value is None else str(value // 1000),
    "int": _text,
    "bool": lambda value: "" if value is None else ("true" if value else "false"),
}


class CsvTableWriter:
    """Rows of one ``table`` into ``path`` (``.csv.gz``); until ``close`` the file is ``path`` + ``.partial``."""

    suffix = ".csv.gz"

    def __init__(self, path: Path, table: Table) -> None:
        self.path = path
        self.rows = 0
        self._partial = path.with_name(path.name + ".partial")
        self._spell = [_SPELLING[column.kind] for column in table.columns]
        self._decimals = [column.name for column in table.columns if column.kind == "decimal"]
        names = [column.name for column in table.columns]
        self._exchange_time, self._local_time = names.index("timestamp"), names.index("local_timestamp")
        self._file = gzip.open(self._partial, "wt", encoding="utf-8", newline="")  # noqa: SIM115  # closed by close()
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(names)

    def write(self, rows: list[Row]) -> None:
        self.rows += len(rows)
        exchange_time, local_time = self._exchange_time, self._local_time
        for row in rows:
            values = list(row)
            if values[exchange_time] is None:
                values[exchange_time] = values[local_time]
            self._csv.writerow([spell(value) for spell, value in zip(self._spell, values, strict=True)])

    def close(self) -> None:
        self._file.close()
        os.replace(self._partial, self.path)

    @property
    def decimal_types(self) -> dict[str, str]:
        """Every decimal column is text, as the exchange sent it."""
        return dict.fromkeys(self._decimals, "text")
