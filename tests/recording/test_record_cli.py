"""``xfeeds record`` and ``xfeeds replay``, run as users run them."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from schemas import BookSnapshot, Event, Subscribed
from tests.cli.test_cli import xfeeds


@pytest.mark.loopback
def test_record_then_replay_as_json_lines(tmp_path: Path) -> None:
    recorded = xfeeds("record", "kraken", "book", "BTC/USD", "--simulate", "--seconds", "1.2", "--out", str(tmp_path))
    assert recorded.returncode == 0, recorded.stderr
    (file,) = tmp_path.iterdir()
    assert file.name.startswith("kraken-") and file.name.endswith(".jsonl.zst")
    assert "frames" in recorded.stderr and file.name in recorded.stderr, (
        "the progress line names the frames and the file"
    )
    assert "\r" not in recorded.stderr and recorded.stderr.count("\n") == 1, "off a terminal: the last line alone"

    replayed = xfeeds("replay", str(file), "--json")
    assert replayed.returncode == 0, replayed.stderr
    events = [msgspec.json.decode(line, type=Event) for line in replayed.stdout.splitlines()]
    assert any(isinstance(e, Subscribed) for e in events) and any(isinstance(e, BookSnapshot) for e in events)
    assert xfeeds("replay", str(tmp_path), "--speed", "50").stdout.count("\n") == len(events)


def test_replay_of_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = xfeeds("replay", str(tmp_path / "missing.jsonl.zst"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "missing.jsonl.zst" in result.stderr


def test_record_needs_an_output_directory() -> None:
    result = xfeeds("record", "kraken", "trades", "BTC/USD", "--simulate")
    assert result.returncode == 2 and "--out" in result.stderr
