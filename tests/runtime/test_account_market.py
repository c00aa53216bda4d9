"""Market data on the account's own socket where the venue serves both on one (Midchains), against
its simulator over real loopback sockets, on asyncio and trio and on both faces: one connection
carries books, trades and orders; a reconnect restores the login and the subscriptions; a plain
feed still never logs in; a venue with a market socket of its own refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import sdk
from adapters.midchains.simulator import DEFAULT_TEST_PASSWORD, DEFAULT_TEST_USER, MidchainsSimulator
from schemas.events import BookSnapshot, Disconnected, Reconnected, Subscribed, Trade
from schemas.subscription import Subscription
from schemas.trading import AccountReady, Fill, OrderRequest
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

CREDENTIALS = sdk.Credentials(key=DEFAULT_TEST_USER, secret=DEFAULT_TEST_PASSWORD)
SYMBOL = "BTC/USD"
BOOK = Subscription(channel="book", symbol=SYMBOL, depth=10)
TRADES = Subscription(channel="trades", symbol=SYMBOL)


def open_account(simulator: MidchainsSimulator, **options: Any) -> sdk.Account:
    return sdk.account("midchains", CREDENTIALS, simulator.auth_url, **options)


def resting(instruments: Any, best: Decimal, client_order_id: str) -> OrderRequest:
    """A small buy well behind the best bid, on the venue's grid."""
    instrument = instruments[SYMBOL]
    tick = instrument.price_increment or Decimal(1).scaleb(-instrument.price_precision)
    price = (best * Decimal("0.9") / tick).to_integral_value() * tick
    qty = max(instrument.qty_min or Decimal("0.001"), Decimal("0.001")) * 4
    return OrderRequest(symbol=SYMBOL, side="buy", order_type="limit", qty=qty, price=price, client_order_id=client_order_id)


def best_bid(simulator: MidchainsSimulator) -> Decimal:
    best = simulator.market.state(SYMBOL).bids.best()
    assert best is not None
    return best


async def test_one_socket_carries_the_book_the_trades_and_the_orders() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        await account.subscribe(BOOK, TRADES)
        events = await collect_until(account, lambda es: bool(of(BookSnapshot, es) and of(Trade, es)))
        assert {s.subscription for s in of(Subscribed, events)} >= {BOOK}
        book = account.orderbook(SYMBOL)
        assert book.valid and book.best_bid is not None
        order = resting(account.instruments, best_bid(simulator), "mc-shared")
        placed = await account.place(order)
        assert placed.venue_order_id is not None and order.qty is not None and order.price is not None
        simulator.force_fill(placed.venue_order_id, order.qty / 2, order.price)
        events = await collect_until(account, lambda es: bool(of(Fill, es)) and bool(of(Trade, es)))
        assert of(Fill, events)[0].venue_order_id == placed.venue_order_id
        assert account.orderbook(SYMBOL).valid
    assert simulator.connections_accepted == 1
    assert simulator.desk.logins == 1


async def test_a_reconnect_restores_the_login_and_the_book(fast_reconnect: sdk.ReconnectPolicy) -> None:
    async with (
        MidchainsSimulator(tick_interval=0.01) as simulator,
        open_account(simulator, reconnect=fast_reconnect) as account,
    ):
        await account.subscribe(BOOK)
        await collect_until(account, lambda es: bool(of(BookSnapshot, es)))
        await simulator.drop_connections()
        events = await collect_until(
            account, lambda es: bool(of(AccountReady, es)) and bool(of(BookSnapshot, es)), timeout=10
        )
        assert len(of(Disconnected, events)) == 1 and len(of(Reconnected, events)) == 1
        assert account.state == "ready" and account.orderbook(SYMBOL).valid
        assert BOOK in [s.subscription for s in of(Subscribed, events)]
        placed = await account.place(resting(account.instruments, best_bid(simulator), "mc-after"))
        assert placed.state in ("pending_new", "new")
    assert simulator.connections_accepted == 2
    assert simulator.desk.logins == 2


async def test_a_plain_feed_never_logs_in() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator:
        async with sdk.connect("midchains", simulator.url, allow_plaintext=True) as feed:
            await feed.subscribe(BOOK)
            await collect_until(feed, lambda es: bool(of(BookSnapshot, es)))
        assert simulator.desk.logins == 0


async def test_a_venue_with_a_market_socket_of_its_own_refuses_market_data_on_the_account() -> None:
    account = sdk.account("kraken", sdk.Credentials(key="k", secret="c2VjcmV0"))
    with pytest.raises(LookupError, match=r"sdk\.connect\('kraken'\)"):
        await account.subscribe(BOOK)
    with pytest.raises(LookupError, match="does not share the trading socket"):
        account.orderbook(SYMBOL)


def test_the_blocking_face_carries_market_data_on_the_account(anyio_backend: str) -> None:
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal(anyio_backend) as portal:
        simulator = portal.call(lambda: MidchainsSimulator(tick_interval=0.01))
        with (
            portal.wrap_async_context_manager(simulator),
            sdk.account_sync("midchains", CREDENTIALS, simulator.auth_url, backend=anyio_backend) as account,
        ):
            account.subscribe(BOOK)
            for event in account:
                if isinstance(event, BookSnapshot):
                    break
            assert account.orderbook(SYMBOL).valid
            placed = account.place(resting(account.instruments, portal.call(best_bid, simulator), "mc-sync-book"))
            assert placed.venue_order_id is not None
            account.unsubscribe(BOOK)
        assert simulator.connections_accepted == 1
