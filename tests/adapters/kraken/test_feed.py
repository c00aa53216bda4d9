"""The Kraken v2 adapter through the feed, against its simulator over loopback."""

from __future__ import annotations

import pytest

import sdk
from adapters.kraken.simulator import KrakenSimulator
from schemas import (
    BookInvalidated,
    BookUpdate,
    Candle,
    Instrument,
    Quote,
    Subscribed,
    SubscriptionError,
    Ticker,
    Trade,
)
from sdk.testing import collect_until

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]


async def test_every_channel_and_a_refused_legacy_symbol() -> None:
    async with KrakenSimulator(tick_interval=0.002) as simulator, sdk.connect("kraken", simulator.url) as feed:
        await feed.subscribe(
            sdk.book("BTC/USD"),
            sdk.trades("BTC/USD"),
            sdk.ticker("ETH/USD"),
            sdk.quotes("SOL/USD"),
            sdk.candles("BTC/USD", "5m"),
            sdk.trades("XBT/USD"),
        )
        events = await collect_until(feed, lambda es: len(es) == 600, timeout=20)
        assert feed.orderbook("BTC/USD").valid
        assert feed.book_stats.checks > 50 and feed.book_stats.failures == 0
    kinds = {type(e) for e in events}
    assert {Trade, Ticker, Quote, Candle, BookUpdate} <= kinds
    assert not any(isinstance(e, BookInvalidated) for e in events)
    [refused] = [e for e in events if isinstance(e, SubscriptionError)]
    assert refused.subscription == sdk.trades("XBT/USD")
    assert refused.message == "Currency pair not supported XBT/USD"
    acks = {e.subscription for e in events if isinstance(e, Subscribed)}
    assert sdk.quotes("SOL/USD") in acks and sdk.instruments() not in acks  # the internal one stays quiet
    candle_ack = next(e for e in events if isinstance(e, Subscribed) and e.subscription.channel == "candles")
    assert candle_ack.warnings == ("timestamp is deprecated, use interval_begin",)
    trade_ids = [int(e.trade_id) for e in events if isinstance(e, Trade) and e.trade_id]
    assert trade_ids == sorted(trade_ids)


async def test_instruments_on_request() -> None:
    async with KrakenSimulator() as simulator, sdk.connect("kraken", simulator.url) as feed:
        await feed.subscribe(sdk.instruments())
        events = await collect_until(feed, lambda es: len(es) == 9, timeout=20)
    instruments = {e.symbol: e for e in events if isinstance(e, Instrument)}
    assert instruments["BTC/USD"].price_precision == 1
    assert instruments["DOGE/USD"].price_precision == 7
    assert all(i.qty_precision == 8 for i in instruments.values())


async def test_reconnect_restores_books_with_precision(fast_reconnect: sdk.ReconnectPolicy) -> None:
    async with (
        KrakenSimulator(tick_interval=0.002) as simulator,
        sdk.connect("kraken", simulator.url, reconnect=fast_reconnect) as feed,
    ):
        await feed.subscribe(sdk.book("ETH/USD"))
        await collect_until(feed, lambda es: len(es) == 50, timeout=20)
        await simulator.drop_connections()
        events = await collect_until(feed, lambda es: len(es) == 200, timeout=20)
        assert feed.orderbook("ETH/USD").valid
    assert not any(isinstance(e, BookInvalidated) for e in events)


async def test_ticker_and_quotes_on_one_symbol_refuse_the_second_cleanly() -> None:
    async with KrakenSimulator(tick_interval=0.002) as simulator, sdk.connect("kraken", simulator.url) as feed:
        await feed.subscribe(sdk.quotes("ETH/USD"))
        await feed.subscribe(sdk.ticker("ETH/USD"))
        events = await collect_until(feed, lambda es: len(es) == 200, timeout=20)
        assert feed.subscriptions == [sdk.quotes("ETH/USD")]
    [refused] = [e for e in events if isinstance(e, SubscriptionError)]
    assert (refused.subscription, refused.message) == (sdk.ticker("ETH/USD"), "Already subscribed")
    after = events[events.index(refused) :]
    assert any(isinstance(e, Quote) for e in after)
    assert not any(isinstance(e, Ticker) for e in after)
