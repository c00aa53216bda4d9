"""Hostile venues against the feed's rules: subscriptions, books, liveness, attempts and lifecycle.

Each venue is written from Kraken's v2 protocol and real captured frames (``../shared/fixtures``),
not with the project's simulator; each test holds one promise the README makes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

import sdk
from schemas import (
    BookInvalidated,
    BookUpdate,
    Disconnected,
    Reconnected,
    Subscribed,
    SubscriptionError,
    SubscriptionStale,
    Trade,
)
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_for, collect_until, of
from tests.conftest import fixture_lines

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

INSTRUMENT = (
    '{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","base":"BTC",'
    '"quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":1,'
    '"price_increment":0.1,"qty_min":0.0001,"cost_min":0.5}]}}'
)
STAMP = {"time_in": "2024-01-01T00:00:00.000000Z", "time_out": "2024-01-01T00:00:00.000001Z"}
FAST = sdk.ReconnectPolicy(initial=0.01, cap=0.05, max_attempts=3)


def ack(request: dict[str, Any], symbol: str | None = None) -> str:
    """Kraken v2's success reply to ``request``."""
    params = request["params"]
    result = {"channel": params["channel"], **({"symbol": symbol} if symbol else {})}
    return json.dumps({"method": request["method"], "result": result, "success": True, "req_id": request["req_id"], **STAMP})


def refusal(request: dict[str, Any], symbol: str, error: str) -> str:
    return json.dumps(
        {"error": error, "method": request["method"], "req_id": request["req_id"], "success": False, "symbol": symbol}
        | STAMP
    )


def trade(trade_id: int, symbol: str = "BTC/USD") -> str:
    return (
        f'{{"channel":"trade","type":"update","data":[{{"symbol":"{symbol}","side":"buy","price":42000.5,'
        f'"qty":0.25,"ord_type":"market","trade_id":{trade_id},"timestamp":"2024-01-01T00:00:01.000000Z"}}]}}'
    )


async def answer_all(peer: VenuePeer, then: Callable[[VenuePeer, dict[str, Any]], Awaitable[None]]) -> None:
    """Acknowledge every subscribe request (per symbol), and let ``then`` act after each one."""
    with pytest.raises(anyio.EndOfStream):
        while True:
            request = await peer.receive_json()
            if request.get("method") != "subscribe":
                continue
            for symbol in request["params"].get("symbol") or [None]:
                await peer.send(ack(request, symbol))
            await then(peer, request)


async def test_a_slow_consumer_never_makes_a_talking_venue_look_silent() -> None:
    """Item 5: under overflow="wait", time the reader spends waiting for the consumer is not silence."""

    async def stream(peer: VenuePeer, request: dict[str, Any]) -> None:
        for trade_id in range(1, 100_000):
            await peer.send(trade(trade_id))
            await anyio.sleep(0.001)

    async def script(peer: VenuePeer) -> None:
        await answer_all(peer, stream)

    async with (
        HostileVenue(script) as venue,
        sdk.connect("kraken", venue.url, buffer_size=20, idle_timeout=0.4, ping_interval=0.2) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        delivered = []
        with anyio.move_on_after(2.5):
            async for event in feed:
                delivered.append(event)
                if isinstance(event, Trade) and len(delivered) % 20 == 0:
                    await anyio.sleep(0.6)  # the consumer stalls longer than idle_timeout, again and again
    assert not of(Disconnected, delivered), "a venue that never went quiet was dropped as silent"
    ids = [int(t.trade_id or 0) for t in of(Trade, delivered)]
    assert ids == list(range(1, len(ids) + 1))  # nothing lost: the venue waited on TCP


def test_leaving_a_sync_loop_early_loses_nothing() -> None:
    """Item 6: the rest of the batch the first loop was in is delivered to the next loop."""

    async def script(peer: VenuePeer) -> None:
        async def burst(peer: VenuePeer, request: dict[str, Any]) -> None:
            await peer.send(*(trade(i) for i in range(1, 6)))

        await answer_all(peer, burst)

    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(HostileVenue(script)) as venue,
        sdk.connect_sync("kraken", venue.url) as feed,
    ):
        feed.subscribe(sdk.trades("BTC/USD"))
        for event in feed:
            if isinstance(event, Subscribed):
                break
        trades = []
        for event in feed:
            if isinstance(event, Trade):
                trades.append(int(event.trade_id or 0))
                if len(trades) == 5:
                    break
    assert trades == [1, 2, 3, 4, 5]


async def test_a_refused_second_depth_leaves_the_first_book_maintained_and_verified() -> None:
    """Item 7: v2 refuses a second depth of a symbol; the depth still subscribed keeps being verified."""
    book_frames = fixture_lines("kraken/v2_book.jsonl")

    async def script(peer: VenuePeer) -> None:
        with pytest.raises(anyio.EndOfStream):
            while True:
                request = await peer.receive_json()
                params = request["params"]
                if params["channel"] == "instrument":
                    await peer.send(ack(request), INSTRUMENT)
                elif params.get("depth") == 25:
                    await peer.send(refusal(request, "BTC/USD", "Already subscribed"))
                elif params["channel"] == "book":
                    await peer.send(ack(request, "BTC/USD"), book_frames[0])
                    await anyio.sleep(0.2)  # the second depth is asked for and refused meanwhile
                    for frame in book_frames[1:]:
                        await peer.send(frame)

    async with HostileVenue(script) as venue, sdk.connect("kraken", venue.url) as feed:
        await feed.subscribe(sdk.book("BTC/USD", depth=10))
        await feed.subscribe(sdk.book("BTC/USD", depth=25))
        events = await collect_until(
            feed, lambda es: len(of(BookUpdate, es)) == len(book_frames) - 1 and bool(of(SubscriptionError, es))
        )
        book = feed.orderbook("BTC/USD")
        assert book.valid and book.depth == 10
        assert feed.state(sdk.book("BTC/USD", depth=25)) == "failed"
    [refused] = of(SubscriptionError, events)
    assert refused.subscription == sdk.book("BTC/USD", depth=25) and refused.message == "Already subscribed"
    assert {u.depth for u in of(BookUpdate, events)} == {10}
    assert not of(BookInvalidated, events)
    assert feed.book_stats.checks == len(book_frames) and feed.book_stats.failures == 0


async def test_a_book_that_stops_while_trades_flow_is_stale_and_no_longer_valid() -> None:
    """Item 9: liveness is per stream: a frozen book beside a flowing trade stream is reported."""
    book_frames = fixture_lines("kraken/v2_book.jsonl")

    async def script(peer: VenuePeer) -> None:
        async def feed_it(peer: VenuePeer, request: dict[str, Any]) -> None:
            params = request["params"]
            if params["channel"] == "instrument":
                await peer.send(INSTRUMENT)
            elif params["channel"] == "book":
                await peer.send(*book_frames[:5])  # then the book stops
            else:
                async with anyio.create_task_group() as group:
                    group.start_soon(trades_forever, peer)

        await answer_all(peer, feed_it)

    async def trades_forever(peer: VenuePeer) -> None:
        for trade_id in range(1, 100_000):
            await peer.send(trade(trade_id))
            await anyio.sleep(0.02)

    async with HostileVenue(script) as venue, sdk.connect("kraken", venue.url, stale_after=0.5) as feed:
        await feed.subscribe(sdk.book("BTC/USD"))
        await collect_until(feed, lambda es: bool(of(BookUpdate, es)))
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(SubscriptionStale, es)), timeout=5)
        [stale] = of(SubscriptionStale, events)
        assert stale.subscription == sdk.book("BTC/USD")
        events += await collect_until(feed, lambda es: bool(of(BookInvalidated, es)), timeout=2)
        assert not feed.orderbook("BTC/USD").valid
    [frozen] = of(BookInvalidated, events)
    assert frozen.reason == "stale" and frozen.depth == 10
    assert of(Trade, events)  # the trades flowed all along


async def test_a_subscription_made_right_after_a_reconnect_is_sent() -> None:
    """Item 12: a subscription made while the feed re-sends after a reconnect still leaves."""
    seen: list[list[str]] = []

    async def script(peer: VenuePeer) -> None:
        async def record(peer: VenuePeer, request: dict[str, Any]) -> None:
            seen.append([request["params"]["channel"], *request["params"].get("symbol", [])])
            if peer.number == 1 and len(seen) == 1:
                await peer.drop()

        await answer_all(peer, record)

    async with HostileVenue(script) as venue, sdk.connect("kraken", venue.url, reconnect=FAST) as feed:
        await feed.subscribe(sdk.trades("BTC/USD"))
        await collect_until(feed, lambda es: bool(of(Reconnected, es)))
        await feed.subscribe(sdk.trades("ETH/USD"))  # while the re-sent request may still be in flight
        events = await collect_until(
            feed, lambda es: any(e.subscription == sdk.trades("ETH/USD") for e in of(Subscribed, es))
        )
    assert ["trade", "ETH/USD"] in seen
    assert not of(SubscriptionError, events)
    assert feed.state(sdk.trades("ETH/USD")) == "active"


async def test_errors_in_the_body_leave_the_feed_as_themselves() -> None:
    """Item 13: UnsupportedSubscription and FeedClosed surface as themselves, not in an ExceptionGroup."""

    async def script(peer: VenuePeer) -> None:
        await peer.hold()

    async with HostileVenue(script) as venue:
        with pytest.raises(sdk.UnsupportedSubscription):
            async with sdk.connect("kraken", venue.url) as feed:
                await feed.subscribe(sdk.book("BTC/USD", depth=42))
        with pytest.raises(sdk.FeedClosed):
            async with sdk.connect("kraken", venue.url) as feed:
                raise sdk.FeedClosed("ended by hand")


@pytest.mark.usefixtures("transport")
async def test_an_attempt_limit_ends_a_feed_whose_venue_drops_every_connection_at_once() -> None:
    """Item 15: accepting and closing at once counts as a failed attempt; max_attempts ends the feed."""

    async def script(peer: VenuePeer) -> None:
        await peer.close(1011, "go away")

    async with HostileVenue(script) as venue:
        with pytest.raises(sdk.FeedClosed) as ended:
            async with sdk.connect("kraken", venue.url, reconnect=FAST) as feed:
                await collect_for(feed, 5)
    assert ended.value.failed and "gave up after 3 reconnect attempts" in str(ended.value)
    assert venue.connections == 4  # the first connection and three attempts, then no more


async def test_a_closed_feed_refuses_use_instead_of_ignoring_it() -> None:
    """Item 16: subscribing to a closed feed raises; entering it again raises."""

    async def script(peer: VenuePeer) -> None:
        await peer.hold()

    async with HostileVenue(script) as venue:
        feed = sdk.connect("kraken", venue.url)
        async with feed:
            pass
        with pytest.raises(sdk.FeedClosed):
            await feed.subscribe(sdk.trades("BTC/USD"))
        with pytest.raises(RuntimeError, match="entered once"):
            async with feed:
                pass
    assert venue.connections == 1


async def test_a_v1_update_without_its_checksum_is_not_trusted() -> None:
    """Item 17: a Kraken v1 book update lacking ``c`` invalidates the book instead of passing unchecked."""
    snapshot, update, following = [line for line in fixture_lines("kraken/v1_book.jsonl") if line.startswith("[")][:3]
    assert '"c":"' in update and '"c":"' in following
    unchecked = following.replace('"c":"', '"x":"')

    async def script(peer: VenuePeer) -> None:
        request = await peer.receive_json()
        await peer.send(
            json.dumps(
                {
                    "channelID": 1,
                    "channelName": "book-10",
                    "event": "subscriptionStatus",
                    "pair": "XBT/USD",
                    "status": "subscribed",
                    "subscription": {"depth": 10, "name": "book"},
                    **({"reqid": request["reqid"]} if "reqid" in request else {}),
                }
            ),
            snapshot,
            update,
            unchecked,
        )
        await peer.hold()

    async with HostileVenue(script) as venue, sdk.connect("kraken-v1", venue.url) as feed:
        await feed.subscribe(sdk.book("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(BookInvalidated, es)))
        assert not feed.orderbook("BTC/USD").valid
    [invalid] = of(BookInvalidated, events)
    assert invalid.reason == "unverifiable"
    assert feed.book_stats.checks == 1  # the checksummed update (v1 snapshots carry none)
