"""How far an export has come, on the terminal: a rich progress line when rich is installed (the ``view``
extra) and stderr is a terminal, else a plain line every second."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from sdk.export.exporter import ExportProgress

Report = Callable[[ExportProgress], None]


def _words(progress: ExportProgress) -> str:
    return (
        f"{progress.events:,} events, {progress.rows:,} rows in {progress.files} files, "
        f"{progress.skipped_updates:,} book updates before a snapshot skipped"
    )


@contextmanager
def progress_bar(stream: TextIO | None = None) -> Iterator[Report]:
    """A progress callback for ``export`` drawing on ``stream`` (standard error as it is when the
    block starts) while the block runs."""
    stream = stream if stream is not None else sys.stderr
    try:
        from rich.console import Console  # noqa: PLC0415  # rich is an optional extra
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415
    except ImportError:
        rich_available = False
    else:
        rich_available = stream.isatty()
    if not rich_available:
        yield _plain(stream)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task("exporting")

        def report(progress: ExportProgress) -> None:
            bar.update(task, description=_words(progress))

        yield report


def _plain(stream: TextIO) -> Report:
    last = 0.0

    def report(progress: ExportProgress) -> None:
        nonlocal last
        if time.monotonic() - last >= 1.0:
            last = time.monotonic()
            print(f"exporting: {_words(progress)}", file=stream, flush=True)

    return report
