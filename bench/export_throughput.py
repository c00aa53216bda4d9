"""Export cost: book-delta rows per second and bytes per row, against plain pyarrow from Python dicts.

    pip install -e '.[test]'    # pyarrow
    python -m bench.export_throughput

One corpus of Kraken v2 book frames (book-10 snapshot and updates from the simulator) is decoded
into events once; each variant then writes all of their level rows: (a) the xfeeds Parquet export
(exact decimals, ns times, zstd, delta-encoded times), (b) the xfeeds CSV export (tardis columns,
gzip), (c) the baseline: the same rows built as Python dicts and written by ``pyarrow.parquet.write_table``
with its defaults (types inferred from the values). Rows per second are medians over interleaved
rounds; bytes per row are each variant's file size over its rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.corpus import START_NS, kraken_v2_frames
from bench.timing import compare, pin_to_one_core, report
from schemas import BookSnapshot, BookUpdate, Event
from sdk import registry
from sdk.export import export_sync
from sdk.testing import decode

FRAMES = 40_000


def book_events() -> list[Event]:
    codec = registry.get("kraken").new_codec()
    events = [e for i, frame in enumerate(kraken_v2_frames(FRAMES)) for e in decode(codec, frame, START_NS + i)]
    return [e for e in events if isinstance(e, BookSnapshot | BookUpdate)]


def exporting(events: list[Event], out: Path, to: str, sizes: dict[str, float]) -> Callable[[], int]:
    def run() -> int:
        result = export_sync(events, out, to=to)  # type: ignore[arg-type]
        sizes[to] = sum(f.path.stat().st_size for f in result.files) / result.rows
        return result.rows

    return run


def plain_pyarrow(events: list[Event], out: Path, sizes: dict[str, float]) -> Callable[[], int]:
    def run() -> int:
        rows = [
            {
                "exchange": e.exchange,
                "symbol": e.symbol,
                "timestamp": e.ts_exchange,
                "local_timestamp": e.ts_received,
                "is_snapshot": isinstance(e, BookSnapshot),
                "side": side,
                "price": level.price,
                "amount": level.qty,
            }
            for e in events
            if isinstance(e, BookSnapshot | BookUpdate)
            for side, levels in (("bid", e.bids), ("ask", e.asks))
            for level in levels
        ]
        path = out / "plain.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        sizes["plain"] = path.stat().st_size / len(rows)
        return len(rows)

    return run


def main() -> None:
    pin_to_one_core()
    events = book_events()
    sizes: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        variants = {
            "xfeeds parquet": exporting(events, out / "parquet", "parquet", sizes),
            "xfeeds csv.gz": exporting(events, out / "csv", "csv", sizes),
            "pyarrow from dicts": plain_pyarrow(events, out, sizes),
        }
        results = compare(variants, baseline="pyarrow from dicts", rounds=3)
    report(f"Book-delta rows exported ({len(events):,} book events)", results, "rows", "pyarrow from dicts")
    print("\nBytes per book-delta row")
    for name, key in (("xfeeds parquet", "parquet"), ("xfeeds csv.gz", "csv"), ("pyarrow from dicts", "plain")):
        print(f"  {name:<18}  {sizes[key]:6.1f} B/row")


if __name__ == "__main__":
    main()
