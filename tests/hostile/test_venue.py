"""The hostile venue kit itself: it speaks WebSocket well enough to misbehave on purpose."""

from __future__ import annotations

import anyio
import pytest

import sdk
from schemas import Subscribed, Trade
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback, pytest.mark.usefixtures("transport")]


async def kraken_trades(peer: VenuePeer) -> None:
    """A minimal Kraken v2 venue: acknowledges one trade subscription and sends one trade."""
    request = await peer.receive_json()
    await peer.send(
        '{"method":"subscribe","result":{"channel":"trade","symbol":"BTC/USD"},"success":true,'
        f'"time_in":"2024-01-01T00:00:00.000000Z","time_out":"2024-01-01T00:00:00.000001Z","req_id":{request["req_id"]}}}',
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":42000.5,'
        '"qty":0.25,"ord_type":"market","trade_id":7,"timestamp":"2024-01-01T00:00:01.000000Z"}]}',
    )
    await peer.hold()


async def test_a_scripted_venue_serves_a_real_feed() -> None:
    async with HostileVenue(kraken_trades) as venue, sdk.connect("kraken", venue.url) as feed:
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=5)
    assert of(Subscribed, events) and str(of(Trade, events)[0].price) == "42000.5"
    assert venue.connections == 1


async def test_pings_are_answered_while_the_peer_reads() -> None:
    async def reader(peer: VenuePeer) -> None:
        await peer.hold()

    async with HostileVenue(reader) as venue, sdk.connect("kraken-v1", venue.url, ping_interval=0.05, idle_timeout=3):
        await anyio.sleep(0.3)
    assert venue.connections == 1
