"""Faults over loopback: the feed recovers, says what happened, and keeps the data around the fault."""

from __future__ import annotations

import anyio
import pytest

import sdk
from schemas import Disconnected, Event, Reconnected, Status, Trade
from sdk import registry
from sdk.testing import collect_until, of
from tests.conftest import TransportUnderTest

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]


def reconnected_and_trading(events: list[Event]) -> bool:
    """A trade has arrived over the replacement connection."""
    return bool(of(Reconnected, events)) and isinstance(events[-1], Trade)


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1", "midchains"])
@pytest.mark.usefixtures("transport")
async def test_a_silent_connection_is_detected_and_replaced(
    exchange: str, fast_reconnect: sdk.ReconnectPolicy
) -> None:
    async with (
        registry.get(exchange).make_simulator(tick_interval=0.005) as simulator,
        sdk.connect(exchange, simulator.url, reconnect=fast_reconnect, idle_timeout=0.6) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: len(of(Trade, es)) == 5, timeout=20)
        simulator.silent = True  # the socket stays open; nothing more arrives
        events += await collect_until(feed, lambda es: bool(of(Disconnected, es)), timeout=20)
        simulator.silent = False
        events += await collect_until(feed, reconnected_and_trading, timeout=20)
    [disconnected] = of(Disconnected, events)
    assert "nothing received for" in disconnected.reason and not disconnected.final
    kinds = [type(e) for e in events]
    assert kinds.index(Disconnected) < kinds.index(Reconnected) < len(kinds) - 1
    assert isinstance(events[-1], Trade)


async def slow_consumer(overflow: str) -> tuple[list[Event], sdk.Feed, int]:
    """A consumer that lags far behind a fast market, then catches up once the market stops."""
    from adapters.kraken_v1.simulator import KrakenV1Simulator

    delivered: list[Event] = []
    endings: list[sdk.FeedClosed] = []
    async with (
        KrakenV1Simulator(tick_interval=0.001) as simulator,
        sdk.connect("kraken-v1", simulator.url, buffer_size=40, overflow=overflow, resync_interval=0.01) as feed,
    ):
        await feed.subscribe(sdk.book("BTC/USD"), sdk.trades("BTC/USD"))
        most_buffered = 0
        with anyio.move_on_after(1.5):
            try:
                async for event in feed:
                    delivered.append(event)
                    most_buffered = max(most_buffered, feed.buffered)
                    await anyio.sleep(0.01)
            except sdk.FeedClosed as closed:
                endings.append(closed)
        simulator.paused = True
        with anyio.move_on_after(1.0):
            try:
                async for event in feed:
                    delivered.append(event)
            except sdk.FeedClosed as closed:
                endings.append(closed)
    assert all(overflow == "fail" and ended.failed for ended in endings)
    return delivered, feed, most_buffered


async def test_drop_oldest_counts_and_reports_every_drop_and_resyncs_books() -> None:
    from schemas import BookInvalidated, BookResynced, EventsDropped

    delivered, feed, most_buffered = await slow_consumer("drop_oldest")
    notices = [e for e in delivered if isinstance(e, EventsDropped)]
    assert notices, "the consumer was slow enough to lose events"
    assert sum(n.count for n in notices) == feed.stats.dropped == notices[-1].total
    assert most_buffered <= 40 + 5  # bounded: capacity plus the notices about the drop
    market = [
        e
        for e in delivered
        if not isinstance(e, EventsDropped) and not (isinstance(e, BookInvalidated) and e.reason == "dropped")
    ]
    assert len(market) + feed.stats.dropped == feed.stats.events  # nothing lost without a count
    assert any(isinstance(e, BookInvalidated) and e.reason == "dropped" for e in delivered)
    assert any(isinstance(e, BookResynced) for e in delivered)


async def test_wait_loses_nothing_and_fail_ends_the_feed() -> None:
    delivered, feed, most_buffered = await slow_consumer("wait")
    assert feed.stats.dropped == 0
    assert most_buffered <= 40 + 600  # capacity plus one network read (64 KiB: a few hundred events)
    assert len(delivered) == feed.stats.events
    delivered, feed, _ = await slow_consumer("fail")
    final = [e for e in delivered if isinstance(e, Disconnected) and e.final]
    assert len(final) == 1 and "overflow policy is fail" in final[0].reason


async def test_plain_ws_only_to_this_machine_unless_asked(transport: TransportUnderTest) -> None:
    from sdk.transport import InsecureURL

    with pytest.raises(InsecureURL, match="wss://"):
        await transport.connector().connect("ws://example.com:8080/")
    with pytest.raises(OSError):  # noqa: PT011 - allowed, then refused: nothing listens there
        await transport.connector(timeout=2).connect("ws://127.0.0.1:9")


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1", "midchains"])
@pytest.mark.usefixtures("transport")
async def test_bad_frames_cost_only_themselves_and_oversized_ones_the_connection(
    exchange: str, fast_reconnect: sdk.ReconnectPolicy
) -> None:
    from schemas import ErrorEvent

    async with (
        registry.get(exchange).make_simulator(tick_interval=0.005) as simulator,
        sdk.connect(exchange, simulator.url, reconnect=fast_reconnect, max_message=64 * 1024) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=20)
        for frame in (
            '{"truncated": [1, 2',
            "not json at all",
            '{"type":"from-the-future"}',
            "[1,2,3]",
            '{"channel":"mystery","data":[]}',
        ):
            await simulator.inject(frame)
        await simulator.inject('"' + "x" * (100 * 1024) + '"')  # over the 64 KiB message limit
        events += await collect_until(feed, reconnected_and_trading, timeout=20)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) >= 4 and all(e.raw for e in errors)
    [disconnected] = of(Disconnected, events)
    assert "1009" in disconnected.reason  # message too big: the client closed the connection
    trades_after_errors = [e for e in events[events.index(errors[0]) :] if isinstance(e, Trade)]
    assert trades_after_errors


@pytest.mark.usefixtures("transport")
async def test_closed_with_a_code_reconnects(fast_reconnect: sdk.ReconnectPolicy) -> None:
    from adapters.kraken.simulator import KrakenSimulator

    async with (
        KrakenSimulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken", simulator.url, reconnect=fast_reconnect) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=20)
        await simulator.close_connections(1013, "try again later")
        events += await collect_until(feed, reconnected_and_trading, timeout=20)
    [disconnected] = of(Disconnected, events)
    assert "1013" in disconnected.reason and "try again later" in disconnected.reason


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1"])
async def test_maintenance_makes_reconnects_wait_for_the_floor(exchange: str) -> None:
    policy = sdk.ReconnectPolicy(initial=0.01, cap=0.02, maintenance_floor=0.6)
    async with (
        registry.get(exchange).make_simulator(tick_interval=0.005) as simulator,
        sdk.connect(exchange, simulator.url, reconnect=policy) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=20)
        await simulator.announce("maintenance")
        await collect_until(feed, lambda es: any(s.state == "maintenance" for s in of(Status, es)), timeout=20)
        await simulator.drop_connections()
        events = await collect_until(feed, lambda es: bool(of(Reconnected, es)), timeout=20)
    [reconnected] = of(Reconnected, events)
    assert reconnected.downtime >= 0.6e9  # not the 10-20 ms the backoff alone would give


async def test_backoff_grows_while_connections_die_young() -> None:
    from adapters.kraken.simulator import KrakenSimulator

    policy = sdk.ReconnectPolicy(initial=0.05, cap=10, healthy_after=60)
    async with (
        KrakenSimulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken", simulator.url, reconnect=policy) as feed,
    ):
        downtimes = []
        with anyio.fail_after(30):
            async for event in feed:
                if isinstance(event, Reconnected):
                    downtimes.append(event.downtime)
                    if len(downtimes) == 5:
                        break
                if isinstance(event, Trade | Reconnected | Status):  # every connection dies young
                    await simulator.drop_connections()
        assert feed.session.backoff_attempts == 5  # never reset: no connection stayed up 60 s


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1"])
async def test_missing_acknowledgement_is_reported_once_and_the_stream_goes_on(exchange: str) -> None:
    from schemas import Subscribed, SubscriptionError

    async with registry.get(exchange).make_simulator(tick_interval=0.005) as simulator:
        simulator.withhold_acks = True
        async with sdk.connect(exchange, simulator.url, ack_timeout=0.3) as feed:
            await feed.subscribe(sdk.trades("BTC/USD"))
            events = await collect_until(
                feed, lambda es: bool(of(SubscriptionError, es)) and isinstance(es[-1], Trade), timeout=20
            )
            assert feed.subscriptions == [sdk.trades("BTC/USD")]  # still active: data keeps coming
    [late] = of(SubscriptionError, events)
    assert late.subscription == sdk.trades("BTC/USD") and "no acknowledgement within 0.3 s" in late.message
    assert not any(isinstance(e, Subscribed) for e in events)


async def test_trades_exactly_once_in_order_and_the_outage_is_visible(fast_reconnect: sdk.ReconnectPolicy) -> None:
    """v2 numbers trades per book: while connected none is lost or repeated, and the ids skipped
    across an outage sit between the Disconnected and Reconnected that report it."""
    from adapters.kraken.simulator import KrakenSimulator

    async with (
        KrakenSimulator(tick_interval=0.002) as simulator,
        sdk.connect("kraken", simulator.url, reconnect=fast_reconnect) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: len(of(Trade, es)) == 40, timeout=20)
        simulator.refuse_connections = True
        await simulator.drop_connections()
        await anyio.sleep(0.3)  # the market trades on while the client is away
        simulator.refuse_connections = False
        events += await collect_until(feed, lambda es: len(of(Trade, es)) == 40, timeout=20)
    cut = next(i for i, e in enumerate(events) if isinstance(e, Disconnected))
    before = [int(e.trade_id) for e in events[:cut] if isinstance(e, Trade) and e.trade_id]
    after = [int(e.trade_id) for e in events[cut:] if isinstance(e, Trade) and e.trade_id]
    assert before == list(range(before[0], before[0] + len(before)))  # consecutive: none lost, none twice
    assert after == list(range(after[0], after[0] + len(after)))
    assert after[0] > before[-1] + 1  # the trades of the outage are missing, and the stream says so:
    assert any(isinstance(e, Reconnected) for e in events[cut:])


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1", "midchains"])
async def test_refused_subscriptions_are_reported_and_not_resent(
    exchange: str, fast_reconnect: sdk.ReconnectPolicy
) -> None:
    from schemas import SubscriptionError

    async with (
        registry.get(exchange).make_simulator(tick_interval=0.005) as simulator,
        sdk.connect(exchange, simulator.url, reconnect=fast_reconnect) as feed,
    ):
        simulator.reject_subscriptions = "Exceeded msg rate"
        await feed.subscribe(sdk.trades("ETH/USD"))
        events = await collect_until(feed, lambda es: bool(of(SubscriptionError, es)))
        assert feed.subscriptions == []  # refused: it will not be re-sent on reconnect
        simulator.reject_subscriptions = None
        await feed.subscribe(sdk.trades("BTC/USD"))
        await simulator.drop_connections()
        events += await collect_until(feed, lambda es: bool(of(Reconnected, es)))
        events += await collect_until(feed, lambda es: bool(of(Trade, es)))
    [refused] = of(SubscriptionError, events)
    assert refused.message == "Exceeded msg rate" and refused.subscription == sdk.trades("ETH/USD")
    assert {e.symbol for e in events if isinstance(e, Trade)} == {"BTC/USD"}


async def test_stale_subscription_is_reported_while_heartbeats_keep_the_connection_alive() -> None:
    from adapters.kraken_v1.simulator import KrakenV1Simulator
    from schemas import SubscriptionStale

    async with (
        KrakenV1Simulator(tick_interval=0.005, heartbeat_interval=0.1) as simulator,
        sdk.connect("kraken-v1", simulator.url, stale_after=0.5, idle_timeout=2.0) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=20)
        simulator.paused = True  # the market stops; heartbeats go on
        events += await collect_until(feed, lambda es: bool(of(SubscriptionStale, es)), timeout=20)
        simulator.paused = False
        events += await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=20)
    [stale] = of(SubscriptionStale, events)
    assert stale.subscription == sdk.trades("BTC/USD") and stale.silent_for >= 0.5e9
    assert not any(isinstance(e, Disconnected) for e in events)  # the connection itself was fine


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1"])
async def test_late_acknowledgement_after_a_timeout_report(exchange: str) -> None:
    from schemas import Subscribed, SubscriptionError

    async with registry.get(exchange).make_simulator(tick_interval=0.005) as simulator:
        simulator.ack_delay = 0.5
        async with sdk.connect(exchange, simulator.url, ack_timeout=0.2) as feed:
            await feed.subscribe(sdk.trades("BTC/USD"))
            events = await collect_until(feed, lambda es: bool(of(Subscribed, es)))
    kinds = [type(e) for e in events]
    assert kinds.index(SubscriptionError) < kinds.index(Subscribed)  # reported late, then confirmed


@pytest.mark.usefixtures("transport")
async def test_a_slow_reading_server_still_serves_everything() -> None:
    from adapters.kraken.simulator import KrakenSimulator
    from schemas import Subscribed

    async with KrakenSimulator(tick_interval=0.005) as simulator:
        simulator.read_delay = 0.2
        async with sdk.connect("kraken", simulator.url) as feed:
            wanted = [sdk.trades("BTC/USD"), sdk.book("ETH/USD"), sdk.ticker("SOL/USD")]
            await feed.subscribe(*wanted)
            await collect_until(feed, lambda es: {e.subscription for e in of(Subscribed, es)} == set(wanted))
            assert feed.orderbook("ETH/USD").valid
