"""End to end: one corrupted checksum resyncs that symbol alone while the other streams on."""

from __future__ import annotations

import pytest

import sdk
from adapters.kraken_v1.simulator import KrakenV1Simulator
from schemas import BookInvalidated, BookResynced, BookSnapshot, BookUpdate, Subscribed, Unsubscribed
from sdk import registry
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]


@pytest.mark.parametrize("exchange", ["kraken-v1", "kraken"])
async def test_corrupted_checksum_resyncs_one_symbol_only(exchange: str) -> None:
    async with (
        registry.get(exchange).make_simulator(tick_interval=0.002) as simulator,
        sdk.connect(exchange, simulator.url, resync_interval=0.05) as feed,
    ):
        await feed.subscribe(sdk.book("BTC/USD"), sdk.book("ETH/USD"))
        events = await collect_until(feed, lambda es: len(of(BookUpdate, es)) == 50, timeout=20)
        simulator.corrupt_next_checksum("BTC/USD")
        events += await collect_until(
            feed, lambda es: bool(of(BookResynced, es)) and len(of(BookUpdate, events + es)) > 400, timeout=20
        )
        btc, eth = feed.orderbook("BTC/USD"), feed.orderbook("ETH/USD")
        assert btc.valid and eth.valid
        assert feed.book_stats.failures == 1 and feed.book_stats.resyncs == 1
        assert feed.book_stats.checks > 400

    [invalidated] = of(BookInvalidated, events)
    assert invalidated.symbol == "BTC/USD" and invalidated.reason == "checksum"
    assert invalidated.expected is not None and invalidated.expected != invalidated.computed
    [resynced] = of(BookResynced, events)
    assert resynced.symbol == "BTC/USD"
    start, end = events.index(invalidated), events.index(resynced)
    between = events[start:end]
    # only BTC/USD was resubscribed, unsubscribe first, then a fresh snapshot ended the resync
    assert [e.subscription for e in between if isinstance(e, Unsubscribed)] == [sdk.book("BTC/USD")]
    assert [e.subscription for e in events[start:] if isinstance(e, Subscribed)] == [sdk.book("BTC/USD")]
    assert isinstance(events[end - 1], BookSnapshot) and events[end - 1].symbol == "BTC/USD"
    # ETH/USD kept streaming through the resync, and every one of its updates verified
    assert any(isinstance(e, BookUpdate) and e.symbol == "ETH/USD" for e in between)
    assert len([e for e in events if isinstance(e, BookSnapshot) and e.symbol == "ETH/USD"]) == 1


async def test_verification_can_be_switched_off_per_subscription() -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.002) as simulator,
        sdk.connect("kraken-v1", simulator.url) as feed,
    ):
        await feed.subscribe(sdk.book("BTC/USD"), verify=False)
        await feed.subscribe(sdk.book("ETH/USD"))
        simulator.corrupt_next_checksum("BTC/USD")
        events = await collect_until(feed, lambda es: len(of(BookUpdate, es)) > 100, timeout=20)
        assert not any(isinstance(e, BookInvalidated) for e in events)
        assert feed.orderbook("BTC/USD").valid  # maintained, just not checked
        assert feed.orderbook("BTC/USD").mid is not None
        view = feed.orderbook("ETH/USD")
        assert view.valid and view.spread is not None and view.spread > 0
        assert view.updated_ns is not None
        assert len(view.bids(5)) == 5 and view.bids(5)[0] == view.best_bid
        assert feed.book_stats.failures == 0 and feed.book_stats.checks > 0
