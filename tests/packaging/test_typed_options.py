"""A misspelt or mistyped feed option fails type checking, as users' own mypy runs would see it."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")


def test_connect_options_are_checked_by_mypy(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(
        "import sdk\n"
        'sdk.connect("kraken", buffer_size=10, overflow="drop_oldest")\n'
        'sdk.connect("kraken", bufer_size=10)\n'
        'sdk.connect_sync("kraken", overflow="drop_newest")\n',
        encoding="utf-8",
    )
    report, _, status = api.run(["--strict", f"--cache-dir={tmp_path / 'cache'}", str(program)])
    assert status == 1
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert len(errors) == 2, report
    assert 'program.py:3: error: Unexpected keyword argument "bufer_size"' in errors[0]
    assert "program.py:4: error:" in errors[1] and "drop_newest" in errors[1]
