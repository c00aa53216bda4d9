"""One piece of user code, written once against ``sdk`` and ``schemas``, on every adapter and facade."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from anyio.from_thread import start_blocking_portal

import sdk
from schemas import BookLevel, BookSnapshot, BookUpdate, Event, Trade
from sdk import registry
from sdk.testing import collect_until

pytestmark = pytest.mark.loopback

EXCHANGES = ["kraken", "kraken-v1", "midchains"]


class MidAndVolume:
    """User code: a mid price from its own top of book, and the traded volume, for BTC/USD.

    It only knows the shared schema: no adapter, no wire format, no exchange name.
    """

    requests = (sdk.trades("BTC/USD"), sdk.book("BTC/USD", depth=10))

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.volume = Decimal(0)
        self.trades = 0
        self.kinds: set[type] = set()
        self.symbols: set[str] = set()

    @property
    def mid(self) -> Decimal | None:
        return (max(self.bids) + min(self.asks)) / 2 if self.bids and self.asks else None

    def on_event(self, event: Event) -> bool:
        """Take one event; True once enough has been seen."""
        self.kinds.add(type(event))
        symbol = getattr(event, "symbol", None)
        if symbol is not None:
            self.symbols.add(symbol)
        if isinstance(event, Trade):
            self.volume += event.qty
            self.trades += 1
        elif isinstance(event, BookSnapshot):
            self.bids, self.asks = self.apply_levels({}, event.bids), self.apply_levels({}, event.asks)
        elif isinstance(event, BookUpdate):
            self.apply_levels(self.bids, event.bids)
            self.apply_levels(self.asks, event.asks)
            self.bids = dict(sorted(self.bids.items(), reverse=True)[: event.depth])
            self.asks = dict(sorted(self.asks.items())[: event.depth])
        return self.trades >= 10 and self.mid is not None

    @staticmethod
    def apply_levels(side: dict[Decimal, Decimal], levels: tuple[BookLevel, ...]) -> dict[Decimal, Decimal]:
        for level in levels:
            if level.qty:
                side[level.price] = level.qty
            else:
                side.pop(level.price, None)
        return side


def check(user: MidAndVolume, feed_mid: Decimal | None) -> None:
    assert user.symbols == {"BTC/USD"}
    assert {"Status", "Subscribed", "BookSnapshot", "BookUpdate", "Trade"} <= {k.__name__ for k in user.kinds}
    assert not {"ErrorEvent", "SubscriptionError"} & {k.__name__ for k in user.kinds}
    assert user.volume > 0
    assert user.mid is not None and user.mid == feed_mid  # the user's book agrees with the feed's


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_async_facade(exchange: str) -> None:
    user = MidAndVolume()
    async with (
        registry.get(exchange).make_simulator(tick_interval=0.002) as simulator,
        sdk.connect(exchange, simulator.url) as feed,
    ):
        await feed.subscribe(*user.requests)
        await collect_until(feed, lambda events: user.on_event(events[-1]), timeout=20)
        check(user, feed.orderbook("BTC/USD").mid)


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_sync_facade_iteration_and_callbacks(exchange: str) -> None:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(registry.get(exchange).make_simulator(tick_interval=0.002)) as simulator,
    ):
        user = MidAndVolume()
        with sdk.connect_sync(exchange, simulator.url) as feed:
            feed.subscribe(*user.requests)
            deadline = time.monotonic() + 20
            for event in feed:
                if user.on_event(event) or time.monotonic() > deadline:
                    break
            check(user, feed.orderbook("BTC/USD").mid)

        called_back = MidAndVolume()
        with sdk.connect_sync(exchange, simulator.url) as feed:
            feed.subscribe(*called_back.requests)
            feed.on_event(called_back.on_event)
            deadline = time.monotonic() + 20
            while called_back.trades < 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert called_back.trades >= 10
            assert feed.orderbook("BTC/USD").valid
