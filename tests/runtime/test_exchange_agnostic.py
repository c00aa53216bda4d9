"""One piece of user code, written once against ``sdk`` and ``schemas``, on every adapter and facade;
and one trading bot, written the same way, on every adapter that trades."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal

import anyio
import pytest
from anyio.from_thread import start_blocking_portal

import sdk
from schemas import BookLevel, BookSnapshot, BookUpdate, Event, OrderRequest, OrderState, OrderUpdate, Trade
from sdk import registry
from sdk.orders import FINAL
from sdk.simulation.venue import TradingVenue
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


# -- trading: one bot, written once, on every adapter that trades --------------------------------


RESTING: frozenset[OrderState] = frozenset({"new", "partially_filled"})


@dataclass
class Quoted:
    """What the bot saw of its one order: as placed, resting on the book, and cancelled."""

    placed: OrderUpdate
    resting: OrderUpdate
    canceled: OrderUpdate
    best_bid: Decimal
    open_while_resting: list[str]
    open_after_cancel: list[str]


async def quote_behind_the_bid(
    exchange: str, credentials: sdk.Credentials, *, feed_url: str, account_url: str, rest_url: str
) -> Quoted:
    """User code that trades: keep BTC/USD's book on a feed while an account quotes one post-only bid
    ten ticks behind the best bid, wait for the venue to rest it, cancel it.

    Like ``MidAndVolume`` it knows only ``sdk`` and ``schemas``: no adapter, no wire format, and the
    exchange only as a name passed in.
    """
    book_ready = anyio.Event()

    async def watch_market(feed: sdk.Feed) -> None:
        async for event in feed:
            if isinstance(event, BookSnapshot):
                book_ready.set()

    async with (
        sdk.connect(exchange, feed_url) as feed,
        sdk.account(exchange, credentials, account_url, rest_url) as account,
        anyio.create_task_group() as tasks,
    ):
        await feed.subscribe(sdk.book("BTC/USD", depth=10))
        tasks.start_soon(watch_market, feed)
        with anyio.fail_after(10):
            await book_ready.wait()
        top = feed.orderbook("BTC/USD").best_bid
        assert top is not None
        best_bid = top[0]
        instrument = account.instruments["BTC/USD"]
        tick = instrument.price_increment or Decimal(1).scaleb(-instrument.price_precision)
        request = OrderRequest(
            symbol="BTC/USD",
            side="buy",
            order_type="limit",
            qty=Decimal("0.01"),
            price=best_bid - 10 * tick,
            post_only=True,
        )
        placed = await account.place(request)
        resting = await follow(account, placed, RESTING | FINAL)
        open_while_resting = list(account.open_orders)
        assert resting.venue_order_id is not None, f"{exchange}: {resting}"
        await account.cancel(resting.venue_order_id)
        canceled = await follow(account, resting, FINAL)
        open_after_cancel = list(account.open_orders)
        tasks.cancel_scope.cancel()
    return Quoted(placed, resting, canceled, best_bid, open_while_resting, open_after_cancel)


async def follow(account: sdk.Account, order: OrderUpdate, until: frozenset[OrderState]) -> OrderUpdate:
    """The order's latest update once its state is one of ``until`` (updates already in the stream
    may be older than what ``place`` returned, so the state decides, not the order of arrival)."""
    with anyio.fail_after(10):
        while order.state not in until:
            event = await anext(account)
            if isinstance(event, OrderUpdate) and event.client_order_id == order.client_order_id:
                order = event
    return order


TRADING = [name for name in registry.names() if registry.get(name).trading is not None]
MARKET_DATA_ONLY = [name for name in registry.names() if registry.get(name).trading is None]


@pytest.mark.anyio
@pytest.mark.parametrize("exchange", TRADING)
async def test_one_bot_trades_on_every_adapter_that_trades(exchange: str) -> None:
    async with registry.get(exchange).make_simulator(tick_interval=0.01) as simulator:
        assert isinstance(simulator, TradingVenue), f"{exchange}'s simulator serves no trading"
        seen = await quote_behind_the_bid(
            exchange,
            simulator.credentials,
            feed_url=simulator.url,
            account_url=simulator.auth_url,
            rest_url=simulator.rest_url,
        )
    placed, resting, canceled = seen.placed, seen.resting, seen.canceled
    assert placed.state in ("pending_new", "new") and placed.client_order_id is not None
    assert (placed.exchange, placed.symbol, placed.side, placed.order_type) == (exchange, "BTC/USD", "buy", "limit")
    assert placed.price is not None and placed.price < seen.best_bid
    assert resting.state == "new" and resting.filled_qty == 0 and resting.qty == Decimal("0.01")
    assert seen.open_while_resting == [resting.venue_order_id]
    assert (canceled.state, canceled.venue_order_id) == ("canceled", resting.venue_order_id)
    assert canceled.filled_qty == 0
    assert seen.open_after_cancel == []


@pytest.mark.parametrize("exchange", MARKET_DATA_ONLY)
def test_an_adapter_that_does_not_trade_says_so(exchange: str) -> None:
    with pytest.raises(LookupError, match=re.escape(repr(exchange))):
        sdk.account(exchange, sdk.Credentials(key="key", secret="secret"))
