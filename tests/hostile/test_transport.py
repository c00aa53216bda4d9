"""Hostile venues against the transport: a close sent with the upgrade."""

from __future__ import annotations

import anyio
import pytest

import sdk
from schemas import Disconnected, Reconnected
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]


async def never_reached(peer: VenuePeer) -> None:
    raise AssertionError("the venue closes every connection with its upgrade")


async def test_a_new_feed_sees_a_close_sent_with_the_upgrade_as_a_disconnect(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with (
        HostileVenue(never_reached, close_with_upgrade=1001) as venue,
        sdk.connect("kraken", venue.url, reconnect=fast_reconnect) as feed,
    ):
        events = await collect_until(feed, lambda es: bool(of(Reconnected, es)), timeout=2)
    assert "1001" in of(Disconnected, events)[0].reason


async def test_a_feed_with_subscriptions_releases_each_socket_a_venue_closes_with_the_upgrade(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with HostileVenue(never_reached, close_with_upgrade=1013) as venue:
        async with sdk.connect("kraken", venue.url, reconnect=fast_reconnect) as feed:
            await feed.subscribe(sdk.trades("BTC/USD"))
            events = await collect_until(feed, lambda es: len(of(Disconnected, es)) >= 3, timeout=3)
            await anyio.sleep(0.1)  # time for the venue to see the sockets the feed released
            assert venue.open_connections <= 1, f"{venue.open_connections} sockets left open"
        assert venue.connections >= 3
    assert all("1013" in disconnected.reason for disconnected in of(Disconnected, events))
