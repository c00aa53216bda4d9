"""``xfeeds export``: recordings replayed into Parquet or CSV files, with a summary of what was written."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import sdk
from adapters.kraken.simulator import KrakenSimulator
from schemas.events import BookUpdate, Trade
from sdk.cli import main
from sdk.testing import collect_until, of


def test_export_help_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert "--to {parquet,csv}" in help_text and "--out DIR" in help_text and "default parquet" in help_text


@pytest.mark.loopback
@pytest.mark.parametrize("to", ["parquet", "csv"])
def test_export_writes_a_recorded_session(to: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recordings = tmp_path / "recordings"

    async def record() -> None:
        async with (
            KrakenSimulator(tick_interval=0.005) as simulator,
            sdk.connect("kraken", simulator.url, record=recordings) as feed,
        ):
            await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD", 10))
            await collect_until(feed, lambda es: len(of(Trade, es)) >= 3 and len(of(BookUpdate, es)) >= 3)

    anyio.run(record)
    files = sorted(str(path) for path in recordings.rglob("*") if path.is_file())
    assert main(["export", *files, "--to", to, "--out", str(tmp_path / "out")]) == 0
    suffix = ".parquet" if to == "parquet" else ".csv.gz"
    written = sorted(
        path.relative_to(tmp_path / "out").parent.as_posix() for path in (tmp_path / "out").rglob(f"*{suffix}")
    )
    assert written == ["kraken/book", "kraken/trades"]
    assert "rows in 2 files" in capsys.readouterr().out


def test_progress_is_plain_text_off_a_terminal() -> None:
    from io import StringIO

    from sdk.export import ExportProgress
    from sdk.export.progress import progress_bar

    stream = StringIO()
    with progress_bar(stream) as report:
        report(ExportProgress(events=12_345, rows=40_000, skipped_updates=3, files=2))
    assert stream.getvalue() == (
        "exporting: 12,345 events, 40,000 rows in 2 files, 3 book updates before a snapshot skipped\n"
    )
