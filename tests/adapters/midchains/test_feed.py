"""Midchains end to end against its simulator over loopback: through the feed, both faces, and a plain client."""

from __future__ import annotations

import json

import pytest
import websocket
from anyio.from_thread import start_blocking_portal

import sdk
from adapters.midchains.simulator import MidchainsSimulator
from schemas import BookSnapshot, BookUpdate, Event, Quote, Reconnected, Subscribed, SubscriptionError, Trade
from sdk import registry
from sdk.testing import collect_until, of

pytestmark = pytest.mark.loopback


@pytest.mark.anyio
async def test_reconnect_delivers_each_trade_once_despite_the_replay(fast_reconnect: sdk.ReconnectPolicy) -> None:
    async with (
        MidchainsSimulator(tick_interval=0.002) as simulator,
        sdk.connect("midchains", simulator.url, reconnect=fast_reconnect) as feed,
    ):
        await feed.subscribe(sdk.trades("BCH/USD"), sdk.book("BCH/USD"), sdk.quotes("BCH/USD"), sdk.book("XXX/USD"))
        events = await collect_until(feed, lambda es: len(of(Trade, es)) == 30, timeout=20)
        await simulator.drop_connections()
        events += await collect_until(feed, lambda es: len(of(Trade, es)) == 50, timeout=20)
        assert feed.orderbook("BCH/USD").valid
    ids = [t.trade_id for t in of(Trade, events)]
    assert len(set(ids)) == len(ids), "the replay after the reconnect was de-duplicated"
    assert of(Reconnected, events)
    [refused] = of(SubscriptionError, events)
    assert refused.subscription == sdk.book("XXX/USD") and refused.message == "invalid security"
    quotes = of(Quote, events)
    assert quotes and all(q.bid < q.ask for q in quotes)


def test_documented_subscribe_works_from_websocket_client() -> None:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(MidchainsSimulator(tick_interval=0.005)) as simulator,
    ):
        ws = websocket.create_connection(simulator.url + "/", timeout=10)
        ws.send('{"type":"subscribe","request":[{"msg":"book","security":"BCHUSD","dest":"CROX"}]}')
        messages = [json.loads(ws.recv()) for _ in range(5)]
        ws.close()
    assert messages[0]["type"] == "open"
    book = messages[1]
    assert book["type"] == "book" and book["security"] == "BCHUSD"
    assert all(entry["id"] > 2**53 for entry in book["books"])
    assert any(entry.get("ioi") for entry in book["books"])


def test_sync_facade_refusal_and_reconnect_without_duplicates(fast_reconnect: sdk.ReconnectPolicy) -> None:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(MidchainsSimulator(tick_interval=0.002)) as simulator,
    ):
        trades: list[Trade] = []
        events: list[Event] = []
        with sdk.connect_sync("midchains", simulator.url, reconnect=fast_reconnect) as feed:
            feed.subscribe(sdk.trades("LTC/USD"), sdk.trades("NOPE/USD"))
            for event in feed:
                events.append(event)
                if isinstance(event, Trade):
                    trades.append(event)
                    if len(trades) == 25:
                        portal.call(simulator.drop_connections)
                    if len(trades) == 60:
                        break
    ids = [t.trade_id for t in trades]
    assert len(set(ids)) == len(ids)
    assert [e.message for e in of(SubscriptionError, events)] == ["invalid security"]
    assert of(Reconnected, events)


@pytest.mark.anyio
async def test_every_security_with_one_book_subscription() -> None:
    every = sdk.book("*", depth=5)
    with pytest.raises(sdk.UnsupportedSubscription, match="cannot subscribe every symbol"):
        registry.get("kraken").check(every)
    with pytest.raises(sdk.UnsupportedSubscription, match="it can for book"):
        registry.get("midchains").check(sdk.trades("*"))
    async with MidchainsSimulator(tick_interval=0.002) as simulator, sdk.connect("midchains", simulator.url) as feed:
        await feed.subscribe(every)
        events = await collect_until(
            feed, lambda es: len({s.symbol for s in of(BookSnapshot, es)}) == 4 and len(es) > 100, timeout=20
        )
        snapshots = {s.symbol for s in of(BookSnapshot, events)}
        for symbol in ("BTC/USD", "BCH/USD", "ETH/USD", "LTC/USD"):
            view = feed.orderbook(symbol)
            assert view.valid
            assert len(view.bids(10)) == 5
    assert [e.subscription for e in of(Subscribed, events)] == [every]
    assert {e.symbol for e in of(BookUpdate, events)} <= snapshots
