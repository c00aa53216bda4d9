"""Hostile venues against the transport: a peer that stops reading, a close sent with the upgrade."""

from __future__ import annotations

import anyio
import pytest

import sdk
from schemas import Disconnected, Reconnected
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of
from tests.conftest import TransportUnderTest

pytestmark = [pytest.mark.anyio, pytest.mark.loopback, pytest.mark.usefixtures("transport")]

SMALL_WINDOW = 4096
"""The venue's receive buffer: a client's writes stall within kilobytes once the venue stops reading."""


class PingFlood:
    """A venue that never reads a byte, so the client's pongs pile up, and pings without end."""

    def __init__(self) -> None:
        self.pings = 0

    async def __call__(self, peer: VenuePeer) -> None:
        while True:
            await peer.ping(b"p" * 125)
            self.pings += 1

    async def stalled(self) -> None:
        """Return once the client has stopped taking pings: its pongs no longer fit anywhere."""
        with anyio.fail_after(5):
            seen = -1
            while seen != self.pings:
                seen = self.pings
                await anyio.sleep(0.2)


async def never_reached(peer: VenuePeer) -> None:
    raise AssertionError("the venue closes every connection with its upgrade")


async def test_a_peer_that_stops_reading_and_floods_pings_is_dropped_by_the_idle_watchdog(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with HostileVenue(PingFlood(), receive_buffer=SMALL_WINDOW) as venue:
        feed = sdk.connect("kraken", venue.url, idle_timeout=1.5, ping_interval=0.3, reconnect=fast_reconnect)
        async with feed:
            events = await collect_until(feed, lambda es: bool(of(Reconnected, es)), timeout=4)
    assert "nothing received" in of(Disconnected, events)[0].reason
    assert venue.connections == 2


async def test_a_write_that_cannot_complete_in_time_drops_the_connection(
    fast_reconnect: sdk.ReconnectPolicy, transport: TransportUnderTest
) -> None:
    connector = transport.connector(write_timeout=0.5)
    async with HostileVenue(PingFlood(), receive_buffer=SMALL_WINDOW) as venue:
        feed = sdk.connect("kraken", venue.url, connector=connector, idle_timeout=30, reconnect=fast_reconnect)
        async with feed:
            # filling the venue's window takes a moment on a loaded machine; the drop itself is 0.5 s
            events = await collect_until(feed, lambda es: bool(of(Disconnected, es)), timeout=10)
    assert "not reading" in of(Disconnected, events)[0].reason


async def test_leaving_a_feed_whose_peer_stopped_reading_is_prompt() -> None:
    flood = PingFlood()
    async with HostileVenue(flood, receive_buffer=SMALL_WINDOW) as venue:
        async with sdk.connect("kraken", venue.url, idle_timeout=30):
            await flood.stalled()
            leaving = anyio.current_time()
        left_after = anyio.current_time() - leaving
    assert left_after < 0.5, f"leaving the feed took {left_after:.1f} s"


async def test_a_new_feed_sees_a_close_sent_with_the_upgrade_as_a_disconnect(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    """The upgrade succeeded, so the connection was made: its end is a ``Disconnected`` with the
    venue's code, then a reconnect, exactly as when the close comes a read later (no
    ``ConnectFailed``, which would turn how TCP happened to split the bytes into a dead feed)."""
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
