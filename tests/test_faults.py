"""Faults over loopback: the feed recovers, says what happened, and keeps the data around the fault."""

from __future__ import annotations

import anyio
import pytest

import adapters
import sdk
from schemas import Disconnected, Event, Reconnected, Trade

pytestmark = pytest.mark.anyio

FAST = sdk.ReconnectPolicy(initial=0.05, cap=0.2)


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1", "midchains"])
async def test_a_silent_connection_is_detected_and_replaced(exchange: str) -> None:
    events: list[Event] = []
    async with (
        adapters.get(exchange).make_simulator(tick_interval=0.005) as simulator,
        sdk.connect(exchange, simulator.url, reconnect=FAST, idle_timeout=0.6) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        with anyio.fail_after(20):
            async for event in feed:
                events.append(event)
                trades = [e for e in events if isinstance(e, Trade)]
                if len(trades) == 5 and not simulator.silent and not any(isinstance(e, Disconnected) for e in events):
                    simulator.silent = True  # the socket stays open; nothing more arrives
                if isinstance(event, Disconnected):
                    simulator.silent = False
                if any(isinstance(e, Reconnected) for e in events) and isinstance(event, Trade):
                    break
    [disconnected] = [e for e in events if isinstance(e, Disconnected)]
    assert "nothing received for" in disconnected.reason and not disconnected.final
    kinds = [type(e) for e in events]
    assert kinds.index(Disconnected) < kinds.index(Reconnected) < len(kinds) - 1
    assert isinstance(events[-1], Trade)
