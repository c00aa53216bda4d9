"""The shared simulator server over loopback: it applies a fault switch to every exchange alike."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from adapters.midchains.dialect import MidchainsDialect
from adapters.midchains.simulator import MidchainsSimulator
from sdk.transport import connect

pytestmark = pytest.mark.loopback

SUBSCRIBE_TRADES = '{"type":"subscribe","request":[{"msg":"trade","security":"BTCUSD","dest":"CROX"}]}'


@pytest.mark.anyio
async def test_withheld_acknowledgements_apply_to_every_venue_that_sends_them() -> None:
    """Midchains' optional positive acks are withheld by the same switch as Kraken's."""
    simulator = MidchainsSimulator(dialect=MidchainsDialect(positive_acks=True), tick_interval=0.005)
    async with simulator:
        for withhold in (True, False):
            simulator.withhold_acks = withhold
            websocket = await connect(simulator.url)
            received: list[Any] = []
            with anyio.fail_after(10):
                await websocket.send_text(SUBSCRIBE_TRADES)
                while sum(m.get("type") == "trade" for m in received) < 25:
                    received += [msgspec.json.decode(m) for m in await websocket.receive_batch()]
            await websocket.close()
            acks = [m for m in received if m.get("type") == "subscribe"]
            assert acks == ([] if withhold else [{"type": "subscribe", "result": "OK", "request": acks[0]["request"]}])
