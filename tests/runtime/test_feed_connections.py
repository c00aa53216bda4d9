"""A feed over several connections: as many as its limit needs, the events of one connection, and a
drop of one connection that requests its own share again and nothing else."""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack

import pytest
from anyio.from_thread import start_blocking_portal

import sdk
from adapters.kraken.simulator import KrakenSimulator
from schemas.events import BookSnapshot, BookUpdate, Disconnected, Event, Reconnected, Subscribed, Trade
from sdk.testing import collect_for, collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

STREAMS = (
    sdk.trades("BTC/USD"),
    sdk.book("BTC/USD", depth=10),
    sdk.trades("ETH/USD"),
    sdk.book("ETH/USD", depth=10),
    sdk.book("SOL/USD", depth=10),
)
SAW_BOTH = (Trade, BookUpdate)


def keys(received: list[Event]) -> list[str]:
    return [sdk.event_key(event) for event in received if isinstance(event, SAW_BOTH)]


def subscribe_requests(records: list[logging.LogRecord]) -> list[tuple[int, str, str]]:
    """(connection number, channel, symbol) of every subscription to a symbol the simulator was asked
    for (each connection also asks for the instrument list, which names none)."""
    requested = []
    for record in records:
        if not record.getMessage().startswith("connection") or '"subscribe"' not in record.getMessage():
            continue
        number, text = record.args if isinstance(record.args, tuple) else (0, "")
        params = json.loads(str(text))["params"]
        requested += [(int(str(number)), params["channel"], symbol) for symbol in params.get("symbol", [])]
    return requested


async def test_the_limit_sets_the_connections_and_the_events_are_those_of_one_connection() -> None:
    async with KrakenSimulator(tick_interval=0.005) as simulator:
        spread = sdk.connect("kraken", simulator.url, allow_plaintext=True, subscriptions_per_connection=2)
        single = sdk.connect("kraken", simulator.url, allow_plaintext=True)
        async with spread:
            await spread.subscribe(*STREAMS)
            assert isinstance(spread, sdk.ShardedFeed)
            assert [len(feed.subscriptions) for feed in spread.connections] == [2, 2, 1]
            assert simulator.connections_accepted == 3
            early = await collect_until(spread, lambda es: len(of(BookUpdate, es)) >= 20, timeout=20)
            async with single:
                await single.subscribe(*STREAMS)
                late = await collect_until(
                    single, lambda es: len(of(BookUpdate, es)) >= 60 and bool(of(Trade, es)), timeout=20
                )
                simulator.paused = True
                late += await collect_for(single, 0.3)
                early += await collect_for(spread, 0.3)
            assert spread.orderbook("SOL/USD").valid
            assert all(spread.state(subscription) == "active" for subscription in STREAMS)

    spread_keys, single_keys = keys(early), keys(late)
    assert len(spread_keys) == len(set(spread_keys)), "an event reached the merged stream twice"
    assert len(single_keys) >= 61
    assert set(single_keys) <= set(spread_keys), "the connections together missed what one connection saw"
    assert {e.symbol for e in of(BookSnapshot, early)} == {"BTC/USD", "ETH/USD", "SOL/USD"}


@pytest.mark.usefixtures("transport")
async def test_a_dropped_connection_requests_its_share_again_and_only_that(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xfeeds.simulator")
    async with (
        KrakenSimulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken", simulator.url, allow_plaintext=True, subscriptions_per_connection=2) as feed,
    ):
        assert isinstance(feed, sdk.ShardedFeed)
        await feed.subscribe(*STREAMS)
        await collect_until(feed, lambda es: len(of(Subscribed, es)) == len(STREAMS), timeout=10)
        share = {(s.channel, s.symbol) for s in feed.connections[1].subscriptions}
        caplog.clear()

        assert await simulator.drop_connection(2)
        after = await collect_until(feed, lambda es: len(of(Subscribed, es)) >= len(share), timeout=10)
        after += await collect_for(feed, 0.3)

        assert len(of(Disconnected, after)) == 1 and len(of(Reconnected, after)) == 1
        assert [e.connection for e in of(Disconnected, after) + of(Reconnected, after)] == [1, 1]
        assert {(e.subscription.channel, e.subscription.symbol) for e in of(Subscribed, after)} == share
        requested = subscribe_requests(caplog.records)
        assert sorted(symbol for _, _, symbol in requested) == sorted(symbol for _, symbol in share)
        assert len({channel for _, channel, _ in requested}) == len(share)  # book and trade, on the wire's names
        assert {number for number, _, _ in requested} == {4}, "the share went anywhere but its new connection"
        assert simulator.connections_accepted == 4
        assert feed.stats.reconnects == 1


def test_the_blocking_face_spreads_and_reads_books_from_the_connection_holding_them() -> None:
    with ExitStack() as stack:
        simulator = stack.enter_context(
            stack.enter_context(start_blocking_portal()).wrap_async_context_manager(
                KrakenSimulator(tick_interval=0.005)
            )
        )
        with sdk.connect_sync("kraken", simulator.url, allow_plaintext=True, subscriptions_per_connection=2) as feed:
            feed.subscribe(*STREAMS[:3])
            events: list[Event] = []
            for event in feed:
                events.append(event)
                if len(of(Subscribed, events)) == 3 and of(Trade, events) and of(BookUpdate, events):
                    break
            assert simulator.connections_accepted == 2
            assert feed.orderbook("BTC/USD").valid
            assert feed.state(sdk.trades("ETH/USD")) == "active"
            assert feed.stats.events >= len(events)


@pytest.mark.usefixtures("transport")
async def test_a_connection_that_cannot_be_opened_fails_the_subscribe_and_leaves_the_feed_running() -> None:
    async with (
        KrakenSimulator(tick_interval=0.005) as simulator,
        sdk.connect("kraken", simulator.url, allow_plaintext=True, subscriptions_per_connection=1) as feed,
    ):
        assert isinstance(feed, sdk.ShardedFeed)
        await feed.subscribe(STREAMS[0])
        simulator.refuse_connections = True
        with pytest.raises(sdk.ConnectFailed):
            await feed.subscribe(STREAMS[2])
        assert len(feed.connections) == 1
        assert of(Trade, await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=10))
        simulator.refuse_connections = False
        await feed.subscribe(STREAMS[2])
        assert len(feed.connections) == 2
