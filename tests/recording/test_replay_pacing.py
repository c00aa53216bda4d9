"""At speed 1 a replay keeps the recorded pace; at other speeds, that pace scaled; time bounds select events."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from schemas.events import Event
from sdk import registry
from sdk.feed import Feed
from sdk.replay import replay
from sdk.subscriptions import book, trades
from sdk.testing import collect_for

pytestmark = pytest.mark.loopback


async def record(directory: Path, seconds: float) -> list[Event]:
    adapter = registry.get("kraken")
    async with adapter.make_simulator(tick_interval=0.01) as simulator, Feed(adapter, simulator.url, record=directory) as feed:
        await feed.subscribe(trades("BTC/USD"), book("BTC/USD", 10))
        return await collect_for(feed, seconds)


async def arrivals(
    directory: Path, speed: float | None, start: int | None = None, end: int | None = None
) -> list[tuple[float, Event]]:
    seen: list[tuple[float, Event]] = []
    async with replay(directory, speed=speed, start=start, end=end) as source:
        async for event in source:
            seen.append((anyio.current_time(), event))
    return seen


def pacing_errors(seen: list[tuple[float, Event]], speed: float) -> list[float]:
    first_at, first = seen[0]
    return [abs((at - first_at) - (event.ts_received - first.ts_received) / 1e9 / speed) for at, event in seen]


def test_speed_one_keeps_the_recorded_pace_within_a_millisecond(tmp_path: Path) -> None:
    live = anyio.run(record, tmp_path, 0.6)
    seen = anyio.run(arrivals, tmp_path, 1.0)
    assert len(seen) >= len(live) > 20
    errors = pacing_errors(seen, 1.0)
    assert sum(errors) / len(errors) < 0.001, f"mean pacing error {sum(errors) / len(errors) * 1e3:.3f} ms"
    duration = (seen[-1][1].ts_received - seen[0][1].ts_received) / 1e9
    assert seen[-1][0] - seen[0][0] >= duration - 0.002


def test_speed_four_takes_a_quarter_of_the_time_and_full_speed_none(tmp_path: Path) -> None:
    anyio.run(record, tmp_path, 0.4)
    fast = anyio.run(arrivals, tmp_path, 4.0)
    errors = pacing_errors(fast, 4.0)
    assert sum(errors) / len(errors) < 0.001
    full = anyio.run(arrivals, tmp_path, None)
    assert full[-1][0] - full[0][0] < 0.05
    assert [e for _, e in full] == [e for _, e in fast]


def test_start_and_end_bound_the_events_by_receive_or_exchange_time(tmp_path: Path) -> None:
    anyio.run(record, tmp_path, 0.4)
    every = [e for _, e in anyio.run(arrivals, tmp_path, None)]
    middle = every[len(every) // 3].ts_received, every[2 * len(every) // 3].ts_received
    bounded = [e for _, e in anyio.run(arrivals, tmp_path, None, middle[0], middle[1])]
    assert bounded == [e for e in every if middle[0] <= e.ts_received <= middle[1]]
    stamped = [e.ts_exchange for e in every if e.ts_exchange is not None]
    low, high = sorted(stamped)[len(stamped) // 4], sorted(stamped)[3 * len(stamped) // 4]

    async def by_exchange() -> list[Event]:
        async with replay(tmp_path, start=low, end=high, by="exchange") as source:
            return [event async for event in source]

    chosen = anyio.run(by_exchange)
    assert chosen == [e for e in every if low <= (e.ts_exchange or e.ts_received) <= high]
    assert chosen
