"""The sync facade: the same feed core driven from ordinary threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from anyio.from_thread import start_blocking_portal

import sdk
from adapters.kraken_v1.simulator import KrakenV1Simulator
from schemas import BookUpdate, Disconnected, Event, Reconnected, Subscribed, SubscriptionError, Trade

pytestmark = pytest.mark.loopback


@pytest.fixture
def simulator() -> Iterator[KrakenV1Simulator]:
    """A simulator on its own background event loop, as a separate process would be."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(KrakenV1Simulator(tick_interval=0.005)) as running,
    ):
        running.portal = portal  # type: ignore[attr-defined]
        yield running


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_blocking_iteration(simulator: KrakenV1Simulator, backend: str) -> None:
    events: list[Event] = []
    with sdk.connect_sync("kraken-v1", simulator.url, backend=backend) as feed:
        feed.subscribe(sdk.trades("BTC/USD"), sdk.trades("NOPE/USD"))
        deadline = time.monotonic() + 10
        for event in feed:
            events.append(event)
            if len([e for e in events if isinstance(e, Trade)]) >= 5 or time.monotonic() > deadline:
                break
    assert len([e for e in events if isinstance(e, Trade)]) == 5
    assert [e.subscription for e in events if isinstance(e, Subscribed)] == [sdk.trades("BTC/USD")]
    [refused] = [e for e in events if isinstance(e, SubscriptionError)]
    assert "NOPE/USD" in refused.message


def test_callbacks_run_on_a_background_thread_while_caller_works(simulator: KrakenV1Simulator) -> None:
    received: list[Event] = []
    threads: set[int] = set()
    enough = threading.Event()

    def on_event(event: Event) -> None:
        threads.add(threading.get_ident())
        received.append(event)
        if len(received) == 3:
            raise RuntimeError("a broken callback must not stop delivery")
        if len([e for e in received if isinstance(e, Trade)]) >= 10:
            enough.set()

    with sdk.connect_sync("kraken-v1", simulator.url, reconnect=sdk.ReconnectPolicy(initial=0.05)) as feed:
        feed.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD"))
        delivery = feed.on_event(on_event)
        work = 0
        while not enough.is_set() and work < 2_000:  # the caller's own work goes on meanwhile
            work += 1
            time.sleep(0.005)
        simulator.portal.call(simulator.drop_connections)  # type: ignore[attr-defined]
        before = len(received)
        assert enough.wait(10)
        deadline = time.monotonic() + 10
        while not any(isinstance(e, Reconnected) for e in received[before:]) and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(RuntimeError, match="already"):
            feed.on_event(on_event)
    assert threading.get_ident() not in threads and len(threads) == 1
    assert work > 0
    assert feed.stats.callback_errors == 1
    assert any(isinstance(e, Disconnected) for e in received)
    assert any(isinstance(e, Reconnected) for e in received)
    assert delivery.cancelled() or delivery.done()


def test_book_copy_from_the_blocking_facade(simulator: KrakenV1Simulator) -> None:
    with sdk.connect_sync("kraken-v1", simulator.url) as feed:
        feed.subscribe(sdk.book("BTC/USD", depth=25))
        updates = 0
        for event in feed:
            updates += isinstance(event, BookUpdate)
            if updates == 50:
                break
        top = feed.orderbook("BTC/USD").top(5)
    assert top.valid and top.symbol == "BTC/USD"
    assert len(top.bids) == len(top.asks) == 5
    assert top.best_bid == top.bids[0] and top.best_ask == top.asks[0]
    assert top.mid is not None and top.spread is not None and top.spread > 0
    assert feed.book_stats.checks >= 50 and feed.book_stats.failures == 0


def test_use_outside_with_block_is_refused() -> None:
    feed = sdk.connect_sync("kraken-v1", "ws://127.0.0.1:9")
    with pytest.raises(RuntimeError, match="with"):
        feed.subscribe(sdk.trades("BTC/USD"))
