"""Bounded chaos over loopback: random faults against every adapter, then everything recovers."""

from __future__ import annotations

import random
import time
import tracemalloc

import anyio
import pytest

import sdk
from schemas import BookSnapshot, Event, Reconnected, Subscribed
from sdk import registry
from sdk.simulation.simulator import Simulator

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

CHAOS_SECONDS = 5.0  # per adapter; three adapters stay well under a minute


async def fault(simulator: Simulator, rng: random.Random) -> None:
    """One random fault from the simulator's switches."""
    kind = rng.choice(["drop", "close", "silence", "garbage", "maintenance", "refuse", "corrupt", "pause"])
    if kind == "drop":
        await simulator.drop_connections()
    elif kind == "close":
        await simulator.close_connections(rng.choice([1001, 1011, 1013]), "chaos")
    elif kind == "silence":
        simulator.silent = True
        await anyio.sleep(0.6)
        simulator.silent = False
    elif kind == "garbage":
        await simulator.inject(rng.choice(['{"oops"', "]]]", '{"type":"surprise"}', "[1,{},2]", "null"]))
    elif kind == "maintenance":
        await simulator.announce("maintenance")
        await anyio.sleep(0.1)
        await simulator.announce("online")
    elif kind == "refuse":
        simulator.refuse_connections = True
        await simulator.drop_connections()
        await anyio.sleep(0.3)
        simulator.refuse_connections = False
    elif kind == "corrupt":
        simulator.corrupt_next_checksum("BTC/USD")
    else:
        simulator.paused = True
        await anyio.sleep(0.2)
        simulator.paused = False


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1", "midchains"])
async def test_chaos(exchange: str, anyio_backend: str) -> None:
    if anyio_backend == "trio":
        pytest.skip("one backend keeps the chaos run short; the faults are backend-independent")
    rng = random.Random(7)
    policy = sdk.ReconnectPolicy(initial=0.02, cap=0.2, maintenance_floor=0.3)
    wanted = [sdk.book("BTC/USD"), sdk.trades("BTC/USD"), sdk.book("ETH/USD")]
    events: list[Event] = []
    tracemalloc.start()
    try:
        async with (
            registry.get(exchange).make_simulator(tick_interval=0.003) as simulator,
            sdk.connect(
                exchange, simulator.url, reconnect=policy, idle_timeout=0.4, resync_interval=0.02, buffer_size=2_000
            ) as feed,
        ):
            await feed.subscribe(*wanted)

            async def consume() -> None:
                async for event in feed:
                    events.append(event)

            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                await anyio.sleep(0.5)
                baseline = tracemalloc.get_traced_memory()[0]
                deadline = time.monotonic() + CHAOS_SECONDS
                while time.monotonic() < deadline:
                    await fault(simulator, rng)
                    await anyio.sleep(rng.uniform(0.05, 0.3))
                recovered_at = len(events)
                with anyio.fail_after(15):  # after the storm: every book valid again
                    while not (feed.connected and all(_valid(feed, s.symbol) for s in wanted if s.channel == "book")):
                        await anyio.sleep(0.05)
                    await anyio.sleep(0.3)
                group.cancel_scope.cancel()
            assert feed.subscriptions == wanted
            grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert feed.stats.reconnects >= 3
    last_reconnect = max(i for i, e in enumerate(events) if isinstance(e, Reconnected))
    restored = {e.subscription for e in events[last_reconnect:] if isinstance(e, Subscribed)}
    assert restored == set(wanted)  # exactly the active subscriptions came back
    assert {e.symbol for e in events[recovered_at:] if isinstance(e, BookSnapshot)} <= {"BTC/USD", "ETH/USD"}
    assert grown < 30 * 1024 * 1024, f"memory grew by {grown / 1e6:.1f} MB"


def _valid(feed: sdk.Feed, symbol: str) -> bool:
    try:
        return feed.orderbook(symbol).valid
    except KeyError:
        return False
