"""The async feed against the Kraken v1 simulator over real loopback sockets, on asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

import sdk
from adapters.kraken_v1.simulator import KrakenV1Simulator
from schemas import (
    BookSnapshot,
    BookUpdate,
    Disconnected,
    Event,
    Reconnected,
    Status,
    Subscribed,
    SubscriptionError,
    Trade,
    Unsubscribed,
)
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]


async def test_subscribe_stream_and_reject_unknown_pair() -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken-v1", simulator.url) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("ETH/USD"), sdk.trades("NOPE/USD"))
        events = await collect_until(feed, lambda es: len(of(Trade, es)) >= 5 and len(of(BookUpdate, es)) >= 5)
    assert isinstance(events[0], Status) and events[0].state == "online"
    assert {e.subscription for e in of(Subscribed, events)} == {sdk.trades("BTC/USD"), sdk.book("ETH/USD")}
    [refused] = of(SubscriptionError, events)
    assert refused.subscription == sdk.trades("NOPE/USD")
    assert refused.message == "Currency pair not supported NOPE/USD"
    assert {t.symbol for t in of(Trade, events)} == {"BTC/USD"}
    [snapshot] = of(BookSnapshot, events)
    assert snapshot.symbol == "ETH/USD" and len(snapshot.bids) == len(snapshot.asks) == 10
    assert feed.subscriptions == [sdk.trades("BTC/USD"), sdk.book("ETH/USD")]  # the refused one is dropped
    assert feed.stats.subscription_errors == 1 and feed.stats.errors == 0


async def test_unsupported_request_fails_before_sending() -> None:
    async with KrakenV1Simulator() as simulator, sdk.connect("kraken-v1", simulator.url) as feed:
        with pytest.raises(sdk.UnsupportedSubscription, match="depths are 10, 25, 100, 500, 1000"):
            await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD", depth=42))
        with pytest.raises(sdk.UnsupportedSubscription, match="intervals are 1m, 5m"):
            await feed.subscribe(sdk.candles("BTC/USD", "2m"))
        assert feed.subscriptions == []
        await feed.subscribe(sdk.candles("BTC/USD", "1h"))
        events = await collect_until(feed, lambda es: bool(of(Subscribed, es)))
    assert of(Subscribed, events)[0].subscription == sdk.candles("BTC/USD", "60m")


async def test_unsubscribe_stops_the_stream() -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken-v1", simulator.url) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"), sdk.quotes("ETH/USD"))
        await collect_until(feed, lambda es: len(of(Trade, es)) >= 2)
        await feed.unsubscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(Unsubscribed, es)))
        assert of(Unsubscribed, events)[0].subscription == sdk.trades("BTC/USD")
        after = await collect_until(feed, lambda es: len(es) >= 30)
    assert not of(Trade, after)
    assert feed.subscriptions == [sdk.quotes("ETH/USD")]


async def test_server_disconnect_reconnects_and_resubscribes(fast_reconnect: sdk.ReconnectPolicy) -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken-v1", simulator.url, reconnect=fast_reconnect) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD"))
        await collect_until(feed, lambda es: len(of(Trade, es)) >= 3)
        assert await simulator.drop_connections() == 1
        events = await collect_until(feed, lambda es: len(of(Trade, es)) >= 3 and bool(of(BookSnapshot, es)))
    [disconnected] = of(Disconnected, events)
    assert not disconnected.final and "1006" in disconnected.reason
    [reconnected] = of(Reconnected, events)
    assert reconnected.downtime > 0
    kinds = [type(e) for e in events]
    assert kinds.index(Disconnected) < kinds.index(Reconnected) < kinds.index(Subscribed)
    assert {e.subscription for e in of(Subscribed, events)} == {sdk.trades("BTC/USD"), sdk.book("BTC/USD")}
    assert simulator.connections_accepted == 2
    assert (feed.stats.disconnects, feed.stats.reconnects) == (1, 1)


async def test_gives_up_with_a_final_event_when_told_to() -> None:
    policy = sdk.ReconnectPolicy(initial=0.01, max_attempts=2)
    async with (
        KrakenV1Simulator() as simulator,
        sdk.connect("kraken-v1", simulator.url, reconnect=policy) as feed,
    ):
        simulator.refuse_connections = True
        await simulator.drop_connections()
        events: list[Event] = []

        async def drain() -> None:
            async for event in feed:  # the feed ends by itself, with an error
                events.append(event)

        with pytest.raises(sdk.FeedClosed, match="gave up after 2 reconnect attempts") as ended:
            await drain()
        assert ended.value.failed
    disconnects = of(Disconnected, events)
    assert [d.final for d in disconnects] == [False, True]
    assert "gave up after 2 reconnect attempts" in disconnects[-1].reason
    assert simulator.connections_accepted == 1


async def test_first_connection_failure_raises() -> None:
    async with KrakenV1Simulator() as simulator:
        url = simulator.url
    with pytest.raises(OSError):  # noqa: PT011 - the platform's refusal text varies
        async with sdk.connect("kraken-v1", url):
            pass


async def test_a_real_failed_first_connection_names_the_url() -> None:
    with pytest.raises(sdk.ConnectFailed, match=r"ws://127\.0\.0\.1:9"):
        async with sdk.connect("kraken", "ws://127.0.0.1:9"):
            pass


async def test_events_arrive_in_batches_with_a_bounded_buffer() -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.001) as simulator,
        sdk.connect("kraken-v1", simulator.url, buffer_size=50) as feed,
    ):
        await feed.subscribe(sdk.book("BTC/USD", depth=100), sdk.trades("BTC/USD"))
        await anyio.sleep(0.5)  # a consumer that falls behind: the reader must stop at the bound
        batch = await feed.next_batch()
        assert 1 < len(batch) <= 50 + 10  # capacity plus at most one network read's batch
        more = await collect_until(feed, lambda es: len(es) >= 200)
    assert len(more) == 200


async def test_subscription_states(fast_reconnect: sdk.ReconnectPolicy) -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken-v1", simulator.url, reconnect=fast_reconnect) as feed,
    ):
        good, bad = sdk.trades("BTC/USD"), sdk.trades("NOPE/USD")
        assert feed.state(good) is None
        await feed.subscribe(good, bad)
        assert feed.state(good) == feed.state(bad) == "pending"
        await collect_until(feed, lambda es: bool(of(Subscribed, es)) and bool(of(SubscriptionError, es)))
        assert (feed.state(good), feed.state(bad)) == ("active", "failed")
        await simulator.drop_connections()
        await collect_until(feed, lambda es: bool(of(Reconnected, es)))
        assert feed.state(good) in ("pending", "active")  # sent again; its new ack may already be in
        await collect_until(feed, lambda es: bool(of(Subscribed, es)))
        assert feed.state(good) == "active"
        await feed.unsubscribe(good)
        assert feed.state(good) == "unsubscribed"
