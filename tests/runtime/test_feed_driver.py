"""The feed's I/O driver over in-memory connections: errors as themselves, offline rules, reconnects."""

from __future__ import annotations

import json
from dataclasses import replace

import anyio
import pytest

import sdk
from schemas import Disconnected, Reconnected, Subscribed, SubscriptionError, Trade
from sdk.contract import ChecksumScheme
from sdk.memory import MemoryConnector, MemoryVenue
from sdk.pacing import RequestLimit
from sdk.testing import collect_for, collect_until, of
from tests.core.toy import ToyCodec, toy_adapter

pytestmark = pytest.mark.anyio


class Oops(Exception):
    """A user's own error."""


async def acknowledge(venue: MemoryVenue) -> dict[str, object]:
    """Read the feed's next request and acknowledge it; returns it."""
    request = await venue.receive()
    assert request is not None
    decoded: dict[str, object] = json.loads(request)
    venue.send(json.dumps({"ack": decoded["id"], "op": decoded["op"]}))
    return decoded


async def test_an_error_in_the_body_surfaces_as_itself() -> None:
    connector = MemoryConnector()
    with pytest.raises(Oops):
        async with sdk.connect(toy_adapter(), connector=connector) as feed:
            await feed.subscribe(sdk.trades("BTC/USD"))
            raise Oops


async def test_feed_closed_by_a_policy_can_be_caught_around_the_feed() -> None:
    connector = MemoryConnector()
    policy = sdk.ReconnectPolicy(initial=0.01, max_attempts=1)
    with pytest.raises(sdk.FeedClosed) as ended:
        async with sdk.connect(toy_adapter(), connector=connector, reconnect=policy) as feed:
            venue = await connector.accept()
            connector.refusing = "nobody home"
            venue.close(1001, "going away")
            async for _ in feed:
                pass
    assert ended.value.failed and "gave up after 1 reconnect attempts" in str(ended.value)


async def test_a_failed_first_connection_names_the_url() -> None:
    connector = MemoryConnector()
    connector.refusing = "connection refused"
    with pytest.raises(sdk.ConnectFailed, match=r"could not connect to ws://127\.0\.0\.1:1: connection refused"):
        async with sdk.connect(toy_adapter(), connector=connector):
            pass


async def test_a_subscription_made_offline_reports_no_missing_acknowledgement(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    connector = MemoryConnector()
    async with sdk.connect(toy_adapter(), connector=connector, reconnect=fast_reconnect, ack_timeout=0.05) as feed:
        venue = await connector.accept()
        connector.refusing = "down for a moment"
        venue.close(1006, "dropped")
        await collect_until(feed, lambda es: bool(of(Disconnected, es)))
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_for(feed, 0.3)  # six ack timeouts pass while nothing can be sent
        assert feed.state(sdk.trades("BTC/USD")) == "pending"
        connector.refusing = None
        venue = await connector.accept()
        request = await acknowledge(venue)
        assert request["subs"] == ["trades:BTC/USD"]
        events += await collect_until(feed, lambda es: bool(of(Subscribed, es)))
    assert not of(SubscriptionError, events) and of(Reconnected, events)


async def test_a_bug_ends_the_feed_and_reaches_the_reader_as_itself() -> None:
    class Broken(Exception):
        pass

    class BrokenCodec(ToyCodec):
        def book_checksum(self, symbol: str) -> ChecksumScheme:
            raise Broken("a bug in a codec's checksum lookup")

    connector = MemoryConnector()
    with pytest.raises(Broken):
        async with sdk.connect(replace(toy_adapter(), codec=BrokenCodec), connector=connector) as feed:
            await feed.subscribe(sdk.book("BTC/USD"))
            venue = await connector.accept()
            await acknowledge(venue)
            venue.send('{"book": "BTC/USD", "snapshot": true, "bids": [["1", "1"]], "asks": [], "checksum": 1}')
            async for _ in feed:
                pass


async def test_the_codec_asking_for_a_reconnect_gets_one(fast_reconnect: sdk.ReconnectPolicy) -> None:
    connector = MemoryConnector()
    async with sdk.connect(toy_adapter(), connector=connector, reconnect=fast_reconnect) as feed:
        venue = await connector.accept()
        venue.send('{"bye": "venue restarting"}')
        events = await collect_until(feed, lambda es: bool(of(Reconnected, es)))
        [disconnected] = of(Disconnected, events)
        assert "venue restarting" in disconnected.reason
        venue = await connector.accept()
        venue.send('{"trade": "BTC/USD", "price": "1.25"}')
        [trade] = of(Trade, await collect_until(feed, lambda es: bool(of(Trade, es))))
    assert str(trade.price) == "1.25"


async def test_requests_are_paced_and_acks_are_timed_from_when_they_left() -> None:
    limited = replace(toy_adapter(), request_limit=RequestLimit(per_second=5, burst=1))
    connector = MemoryConnector()
    async with sdk.connect(limited, connector=connector, ack_timeout=0.3) as feed:
        venue = await connector.accept()
        for symbol in ("BTC/USD", "ETH/USD", "SOL/USD"):
            await feed.subscribe(sdk.trades(symbol))  # one request each; the limit allows one per 0.2 s
        started = anyio.current_time()
        for _ in range(3):
            await acknowledge(venue)
        elapsed = anyio.current_time() - started
        events = await collect_until(feed, lambda es: len(of(Subscribed, es)) == 3)
    assert elapsed >= 0.35  # paced
    assert not of(SubscriptionError, events)  # the last left 0.4 s in, yet its 0.3 s ack clock did not expire
