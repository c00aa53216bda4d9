"""The trading account on Midchains end to end, against its simulator over real loopback sockets, on
asyncio and trio: the in-band login (RSA-encrypted password), a wrong password, an order whose reply
was lost settled by the venue's order query, the private request limit, and the blocking face."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

import sdk
from adapters.midchains.simulator import DEFAULT_TEST_PASSWORD, DEFAULT_TEST_USER, MidchainsSimulator
from schemas.trading import AccountReady, OrderRequest, OrderUpdate, TradingEvent
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

CREDENTIALS = sdk.Credentials(key=DEFAULT_TEST_USER, secret=DEFAULT_TEST_PASSWORD)
SYMBOL = "BTC/USD"


def open_account(simulator: MidchainsSimulator, **options: Any) -> sdk.Account:
    return sdk.account("midchains", CREDENTIALS, simulator.auth_url, **options)


def resting(account: sdk.Account, simulator: MidchainsSimulator, **extra: Any) -> OrderRequest:
    """A small buy well behind the best bid, on the venue's grid (from the account's instrument data)."""
    state = simulator.market.state(SYMBOL)
    best = state.bids.best()
    assert best is not None
    instrument = account.instruments[SYMBOL]
    tick = instrument.price_increment or Decimal(1).scaleb(-instrument.price_precision)
    price = (best * Decimal("0.9") / tick).to_integral_value() * tick
    qty = max(instrument.qty_min or Decimal("0.001"), Decimal("0.001"))
    return OrderRequest(symbol=SYMBOL, side="buy", order_type="limit", qty=qty, price=price, **extra)


def updates(events: list[TradingEvent], state: str, cid: str | None = None) -> list[OrderUpdate]:
    return [e for e in of(OrderUpdate, events) if e.state == state and cid in (None, e.client_order_id)]


async def test_login_place_and_cancel() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        assert account.state == "ready" and account.balances
        placed = await account.place(resting(account, simulator, client_order_id="mc-rest"))
        assert placed.state in ("pending_new", "new") and placed.venue_order_id is not None
        await account.cancel(placed.venue_order_id)
        events = await collect_until(account, lambda es: bool(updates(es, "canceled", "mc-rest")))
        assert updates(events, "canceled", "mc-rest")[0].venue_order_id == placed.venue_order_id
        assert account.open_orders == {}
    assert simulator.orders_received("mc-rest") == 1


async def test_a_wrong_password_is_refused_with_the_venues_text() -> None:
    async with MidchainsSimulator() as simulator:
        wrong = sdk.Credentials(key=DEFAULT_TEST_USER, secret="not the password")
        with pytest.raises(sdk.LoginRefused) as refused:
            async with sdk.account("midchains", wrong, simulator.auth_url, ready_timeout=10):
                pass
        assert refused.value.reason == "invalid user/password"


async def test_a_lost_reply_is_settled_by_the_venues_order_query(fast_reconnect: sdk.ReconnectPolicy) -> None:
    async with (
        MidchainsSimulator(tick_interval=0.01) as simulator,
        open_account(simulator, reconnect=fast_reconnect) as account,
    ):
        simulator.drop_after_next_order()
        placed = await account.place(resting(account, simulator, client_order_id="mc-lost"))
        assert placed.state == "unknown"
        events = await collect_until(account, lambda es: len(of(AccountReady, es)) == 2, timeout=10)
        (settled,) = [u for u in of(OrderUpdate, events) if u.client_order_id == "mc-lost" and u.state != "unknown"]
        assert settled.state in ("new", "pending_new") and settled.venue_order_id is not None
        assert simulator.orders_received("mc-lost") == 1 and account.stats.reconciled == 1


async def test_the_private_request_limit_is_paced_client_side() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        orders = [resting(account, simulator, client_order_id=f"mc-burst-{n}") for n in range(14)]
        placed = [await account.place(order) for order in orders]
        assert all(u.state in ("pending_new", "new") for u in placed), [u.reason for u in placed]


def test_the_blocking_face_trades_on_midchains(anyio_backend: str) -> None:
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal(anyio_backend) as portal:
        simulator = portal.call(lambda: MidchainsSimulator(tick_interval=0.01))
        with (
            portal.wrap_async_context_manager(simulator),
            sdk.account_sync("midchains", CREDENTIALS, simulator.auth_url, backend=anyio_backend) as account,
        ):
            best = portal.call(simulator.market.state(SYMBOL).bids.best)
            assert best is not None
            placed = account.place(_resting_sync(account, best))
            assert placed.venue_order_id is not None
            account.cancel(placed.venue_order_id)
            for event in account:
                if isinstance(event, OrderUpdate) and event.state == "canceled":
                    break
            assert account.open_orders == {}


def _resting_sync(account: sdk.SyncAccount, best: Decimal) -> OrderRequest:
    instrument = account.instruments[SYMBOL]
    tick = instrument.price_increment or Decimal(1).scaleb(-instrument.price_precision)
    price = (best * Decimal("0.9") / tick).to_integral_value() * tick
    qty = max(instrument.qty_min or Decimal("0.001"), Decimal("0.001"))
    return OrderRequest(symbol=SYMBOL, side="buy", order_type="limit", qty=qty, price=price, client_order_id="mc-sync")


async def test_closing_logs_out_once_and_never_reconnects() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator:
        async with open_account(simulator) as account:
            assert account.state == "ready"
        await anyio.sleep(0.3)  # a reconnect after the venue closed the logged-out socket would show here
        assert simulator.connections_accepted == 1 and simulator.desk.logins == 1
