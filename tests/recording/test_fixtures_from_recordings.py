"""A recording is a test fixture: the adapter kit checks its frames and replays it through the session."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdk import registry
from sdk.feed import Feed
from sdk.subscriptions import book, trades
from sdk.testing import AdapterConformance, collect_for, recorded_frames

pytestmark = pytest.mark.loopback


async def record(directory: Path, garbage: bool = False) -> None:
    adapter = registry.get("kraken-v1")
    async with adapter.make_simulator(tick_interval=0.005) as simulator, Feed(adapter, simulator.url, record=directory) as feed:
        await feed.subscribe(book("BTC/USD", 10), trades("ETH/USD"))
        await collect_for(feed, 0.3)
        if garbage:
            await simulator.inject('[1, "book-10", {"a": [["nan"')
            await collect_for(feed, 0.1)


def kit(directory: Path) -> AdapterConformance:
    class RecordedKrakenV1(AdapterConformance):
        adapter_name = "kraken-v1"
        symbol = "BTC/USD"
        recordings = (str(directory),)

    return RecordedKrakenV1()


def test_a_clean_recording_passes_the_kit(tmp_path: Path) -> None:
    anyio.run(record, tmp_path)
    checks = kit(tmp_path)
    checks.test_recordings_replay_cleanly()
    checks.test_recorded_frames_decode_even_cut_short()


def test_the_kit_names_a_recorded_frame_that_broke_the_codec(tmp_path: Path) -> None:
    anyio.run(record, tmp_path, True)
    with pytest.raises(AssertionError, match="a recorded frame broke the codec"):
        kit(tmp_path).test_recordings_replay_cleanly()


def test_recorded_frames_feed_hypothesis(tmp_path: Path) -> None:
    anyio.run(record, tmp_path)
    seen: list[bytes] = []

    @settings(max_examples=20, deadline=None)
    @given(recorded_frames(tmp_path))
    def draw(frame: bytes) -> None:
        seen.append(frame)

    draw()
    assert seen and all(isinstance(frame, bytes) and frame for frame in seen)
    assert isinstance(recorded_frames(tmp_path), st.SearchStrategy)
