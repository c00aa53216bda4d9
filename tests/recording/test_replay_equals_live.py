"""A recorded simulator session, faults and all, replays into the very events the live feed delivered."""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec
import pytest

from schemas.events import BookInvalidated, BookResynced, ErrorEvent, Event, Reconnected, RecordingGap
from sdk import registry
from sdk.feed import Feed
from sdk.reconnect import ReconnectPolicy
from sdk.recording import Recorder
from sdk.replay import Replay, replay, replay_sync
from sdk.subscriptions import book, trades
from sdk.testing import collect_for, collect_until, of

pytestmark = pytest.mark.loopback

SYMBOL = "BTC/USD"
FAST = ReconnectPolicy(initial=0.01, cap=0.05, maintenance_floor=0.05)


def as_json(events: list[Event]) -> list[bytes]:
    return [msgspec.json.encode(event) for event in events]


async def record_faulty_session(directory: Path, adapter_name: str = "kraken") -> tuple[list[Event], Feed]:
    """Live events of a session with a checksum corruption, garbage, maintenance and a dropped connection."""
    adapter = registry.get(adapter_name)
    live: list[Event] = []
    async with adapter.make_simulator(tick_interval=0.005) as simulator:
        feed = Feed(adapter, simulator.url, record=Recorder(directory), reconnect=FAST, resync_interval=0.05)
        async with feed:
            await feed.subscribe(book(SYMBOL, 10), trades(SYMBOL))
            live += await collect_until(feed, lambda events: feed.orderbook(SYMBOL).valid and len(events) > 20)
            simulator.corrupt_next_checksum(SYMBOL)
            live += await collect_until(feed, lambda events: bool(of(BookResynced, events)))
            await simulator.inject('{"channel": "book", "data": [truncated')
            await simulator.inject("\x00 not json at all")
            await simulator.announce("maintenance")
            live += await collect_for(feed, 0.1)
            await simulator.drop_connections()
            live += await collect_until(feed, lambda events: bool(of(Reconnected, events)))
            live += await collect_until(feed, lambda events: feed.orderbook(SYMBOL).valid and len(events) > 20)
    return live, feed


async def replayed(directory: Path) -> tuple[list[Event], Replay]:
    source = replay(directory)
    async with source:
        return [event async for event in source], source


def test_a_replay_delivers_the_live_events_byte_for_byte(tmp_path: Path) -> None:
    async def main() -> None:
        live, feed = await record_faulty_session(tmp_path)
        again, source = await replayed(tmp_path)
        for kind in (BookInvalidated, BookResynced, ErrorEvent, Reconnected):
            assert of(kind, live), f"the recorded session has no {kind.__name__}"
        assert not of(RecordingGap, live)
        assert as_json(again[: len(live)]) == as_json(live)
        # the replay also holds what the live feed processed but nobody read before it closed
        assert source.player is not None
        replayed_book = source.player.session.orderbook(SYMBOL)
        live_book = feed.orderbook(SYMBOL)
        assert (replayed_book.bids(10), replayed_book.asks(10)) == (live_book.bids(10), live_book.asks(10))
        assert replayed_book.valid == live_book.valid
        assert source.player.session.book_stats == feed.book_stats

    anyio.run(main)


def test_the_blocking_replay_is_the_same(tmp_path: Path) -> None:
    live, _ = anyio.run(record_faulty_session, tmp_path, "kraken-v1")
    with replay_sync(tmp_path) as source:
        again = list(source)
    assert as_json(again[: len(live)]) == as_json(live)
