"""Every trading switch of the Midchains dialect, in each of its positions, end to end: the account
on an adapter whose trading codec speaks that dialect, against a simulator speaking the same, over
real loopback sockets, on asyncio and trio.

Whichever way a guess about the venue is settled, the account must still log in, rebuild its
orders from the venue's snapshot (T2), place, see a fill (T1) and cancel (T4); each switch's own
test then shows what its position changes: an order in doubt matched by its terms (T3), the
venue's rate-limit refusal recognised (T5), post-only orders (T6), the dead man's switch (T7) and
a cancel by ``refno`` alone (T8)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest

import sdk
from adapters.midchains.dialect import DEFAULT_DIALECT, MidchainsDialect
from adapters.midchains.private import MidchainsPrivateCodec
from adapters.midchains.simulator import DEFAULT_TEST_PASSWORD, DEFAULT_TEST_USER, MidchainsSimulator
from schemas.trading import AccountReady, ErrorEvent, Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.contract import Adapter
from sdk.simulation.desk import OrderTerms
from sdk.testing import collect_for, collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

CREDENTIALS = sdk.Credentials(key=DEFAULT_TEST_USER, secret=DEFAULT_TEST_PASSWORD)
SYMBOL = "BTC/USD"
STEP_S = 5.0
"""The bound on any one awaited step: the simulator answers in milliseconds."""

POSITIONS: dict[str, tuple[object, ...]] = {
    "pushes": ("rows", "wrapped"),
    "login_snapshot": (True, False),
    "client_id_echo": (True, False),
    "finished_short": ("canceled", "expired"),
    "rate_limit_result": ("rate limit exceeded", "too many requests"),
    "post_only": ("alo", "ordertype", "refused"),
    "dead_man": ("emulated", "none"),
    "cancel_by_refno": (True, False),
}
"""Each trading switch (T1-T8) and every position it can take; the first is the default."""


def dialects(*switches: str) -> list[Any]:
    """A dialect per (switch, position) of ``switches`` (all by default), the rest at their defaults."""
    return [
        pytest.param(MidchainsDialect(**{switch: position}), id=f"{switch}={position}")
        for switch in switches or tuple(POSITIONS)
        for position in POSITIONS[switch]
    ]


def test_the_switches_are_every_trading_guess() -> None:
    """A trading switch added to the dialect is proven here too (the login window is documented)."""
    names = [field.name for field in dataclasses.fields(MidchainsDialect)]
    assert set(names[names.index("login_window_s") + 1 :]) == set(POSITIONS)
    for switch, positions in POSITIONS.items():
        assert positions[0] == getattr(DEFAULT_DIALECT, switch)


def speaking(dialect: MidchainsDialect) -> Adapter:
    """The registered Midchains adapter with its trading codec built for ``dialect``."""
    registered = sdk.registry.get("midchains")
    assert registered.trading is not None
    codec = functools.partial(MidchainsPrivateCodec, dialect=dialect)
    return dataclasses.replace(registered, trading=dataclasses.replace(registered.trading, codec=codec))


@asynccontextmanager
async def venue(dialect: MidchainsDialect, **options: Any) -> AsyncIterator[tuple[MidchainsSimulator, sdk.Account]]:
    """A simulator speaking ``dialect`` and a ready account on it speaking the same."""
    async with (
        MidchainsSimulator(tick_interval=0.01, dialect=dialect) as simulator,
        open_account(simulator, dialect, **options) as account,
    ):
        yield simulator, account


def open_account(simulator: MidchainsSimulator, dialect: MidchainsDialect, **options: Any) -> sdk.Account:
    return sdk.account(speaking(dialect), CREDENTIALS, simulator.auth_url, ready_timeout=STEP_S, **options)


def resting(account: sdk.Account, simulator: MidchainsSimulator, lots: int = 1, **extra: Any) -> OrderRequest:
    """A buy of ``lots`` of the pair's smallest quantity well behind the best bid, on its grid."""
    best = simulator.market.state(SYMBOL).bids.best()
    assert best is not None
    instrument = account.instruments[SYMBOL]
    assert instrument.price_increment is not None and instrument.qty_min is not None
    tick = instrument.price_increment
    price = (best * Decimal("0.9") / tick).to_integral_value() * tick
    return OrderRequest(
        symbol=SYMBOL, side="buy", order_type="limit", qty=instrument.qty_min * lots, price=price, **extra
    )


def received(simulator: MidchainsSimulator, order: OrderRequest) -> int:
    """How many times ``order`` reached the venue: by client id where the dialect sends one, else by terms."""
    if simulator.dialect.client_id_echo:
        assert order.client_order_id is not None
        return simulator.orders_received(order.client_order_id)
    return simulator.orders_received(OrderTerms(order.symbol, order.side, order.qty, order.price))


def updates(events: list[TradingEvent], cid: str, *states: str) -> list[OrderUpdate]:
    return [e for e in of(OrderUpdate, events) if e.client_order_id == cid and (not states or e.state in states)]


# -- every switch, every position: the account's whole journey ------------------------------------


@pytest.mark.parametrize("dialect", dialects())
async def test_the_account_trades_whatever_the_switch(dialect: MidchainsDialect) -> None:
    """Login, place, the snapshot a second login rebuilds the order from (T2), a partial fill as a
    ``Fill`` and an ``OrderUpdate`` (T1), and a cancel that leaves the order done short (T4)."""
    with anyio.fail_after(4 * STEP_S):
        async with venue(dialect) as (simulator, account):
            assert account.state == "ready" and account.balances
            order = resting(account, simulator, lots=2, client_order_id="dl-journey")
            placed = await account.place(order)
            assert placed.state in ("pending_new", "new") and placed.venue_order_id is not None
            refno = placed.venue_order_id

            async with open_account(simulator, dialect) as rebuilt:
                assert set(rebuilt.open_orders) == {refno} and rebuilt.balances
                assert rebuilt.open_orders[refno].state == "new"
                assert rebuilt.open_orders[refno].qty == order.qty

            assert order.qty is not None and order.price is not None
            simulator.force_fill(refno, order.qty / 2, order.price)
            events = await collect_until(
                account, lambda es: bool(of(Fill, es)) and bool(updates(es, "dl-journey", "partially_filled")), STEP_S
            )
            (fill,) = of(Fill, events)
            assert (fill.venue_order_id, fill.client_order_id, fill.qty, fill.price) == (
                refno,
                "dl-journey",
                order.qty / 2,
                order.price,
            )
            assert updates(events, "dl-journey", "partially_filled")[-1].filled_qty == order.qty / 2

            await account.cancel(refno)
            events = await collect_until(
                account, lambda es: bool(updates(es, "dl-journey", "canceled", "expired")), STEP_S
            )
            (done,) = updates(events, "dl-journey", "canceled", "expired")
            assert done.state == dialect.finished_short and done.venue_order_id == refno
            assert account.open_orders == {}
            assert simulator.derived_state(refno) == dialect.finished_short
    assert received(simulator, order) == 1


# -- T3: an order in doubt ------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", dialects("client_id_echo"))
async def test_an_order_whose_reply_was_lost_is_settled_after_the_reconnect(
    dialect: MidchainsDialect, fast_reconnect: sdk.ReconnectPolicy
) -> None:
    """The order reaches the venue once and goes unknown; after the reconnect a query finds it, by
    the client id the venue echoes or, where it echoes none, by its terms, which the account says."""
    with anyio.fail_after(4 * STEP_S):
        async with venue(dialect, reconnect=fast_reconnect) as (simulator, account):
            simulator.drop_after_next_order()
            order = resting(account, simulator, client_order_id="dl-lost")
            placed = await account.place(order)
            assert placed.state == "unknown" and placed.venue_order_id is None
            events = await collect_until(
                account,
                lambda es: len(of(AccountReady, es)) >= 2 and bool(updates(es, "dl-lost", "new", "pending_new")),
                2 * STEP_S,
            )
            (settled,) = updates(events, "dl-lost", "new", "pending_new")
            assert settled.venue_order_id is not None and settled.qty == order.qty and settled.price == order.price
            assert list(account.open_orders) == [settled.venue_order_id]
            assert account.open_orders[settled.venue_order_id].client_order_id == "dl-lost"
            assert account.stats.reconciled == 1
            heuristic = [e for e in of(ErrorEvent, events) if "matched by its terms" in e.message]
            assert len(heuristic) == (0 if dialect.client_id_echo else 1)
            assert received(simulator, order) == 1
            assert [o.venue_id for o in simulator.engine.open_orders(DEFAULT_TEST_USER)] == [settled.venue_order_id]


# -- T5: the venue's rate-limit refusal ---------------------------------------------------------


@pytest.mark.parametrize("dialect", dialects("rate_limit_result"))
async def test_the_venues_rate_limit_refusal_is_recognised_by_its_text(dialect: MidchainsDialect) -> None:
    """The dialect's text is the venue's rate limit; the other position's text is a plain refusal."""
    other = next(text for text in POSITIONS["rate_limit_result"] if text != dialect.rate_limit_result)
    with anyio.fail_after(2 * STEP_S):
        async with venue(dialect) as (simulator, account):
            simulator.reject_orders(1)
            limited = await account.place(resting(account, simulator, client_order_id="dl-limited"))
            assert limited.state == "rejected" and limited.reason == dialect.rate_limit_result
            assert account.stats.rate_limited == 1
            simulator.reject_orders(1, str(other))
            refused = await account.place(resting(account, simulator, client_order_id="dl-refused"))
            assert refused.state == "rejected" and refused.reason == other
            assert account.stats.rate_limited == 1
            placed = await account.place(resting(account, simulator, client_order_id="dl-after"))
            assert placed.state in ("pending_new", "new")


# -- T6: post-only orders -----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", dialects("post_only"))
async def test_a_post_only_order_is_asked_for_as_the_dialect_says(dialect: MidchainsDialect) -> None:
    """``alo`` and ``ordertype``: the venue rests the order as post-only and refuses one that would
    take; ``refused``: the account refuses it before anything is sent."""
    with anyio.fail_after(2 * STEP_S):
        async with venue(dialect) as (simulator, account):
            order = resting(account, simulator, client_order_id="dl-post", post_only=True)
            best_ask = simulator.market.state(SYMBOL).asks.best()
            assert best_ask is not None
            taking = msgspec.structs.replace(order, client_order_id="dl-post-taking", price=best_ask)
            if dialect.post_only == "refused":
                with pytest.raises(ValueError, match="T6"):
                    await account.place(order)
                assert received(simulator, order) == 0 and account.stats.orders_sent == 0
                return
            placed = await account.place(order)
            assert placed.state in ("pending_new", "new") and placed.order_type == "limit"
            (resting_order,) = simulator.engine.open_orders(DEFAULT_TEST_USER)
            assert resting_order.spec.post_only and resting_order.venue_id == placed.venue_order_id
            refused = await account.place(taking)
            assert refused.state == "rejected"
            assert len(simulator.engine.open_orders(DEFAULT_TEST_USER)) == 1


# -- T7: the dead man's switch ------------------------------------------------------------------


@pytest.mark.parametrize("dialect", dialects("dead_man"))
async def test_the_dead_mans_switch_is_emulated_or_refused(dialect: MidchainsDialect) -> None:
    """``emulated``: armed for a second, it fires while connected and cancels every open order,
    saying so; ``none``: arming it raises, and the order stays."""
    with anyio.fail_after(3 * STEP_S):
        async with venue(dialect) as (simulator, account):
            placed = await account.place(resting(account, simulator, client_order_id="dl-deadman"))
            assert placed.venue_order_id is not None
            if dialect.dead_man == "none":
                with pytest.raises(ValueError, match="none is emulated"):
                    await account.cancel_all_after(1)
                await collect_for(account, 1.5)
                assert list(account.open_orders) == [placed.venue_order_id]
                return
            trigger_ns = await account.cancel_all_after(1)
            assert trigger_ns is not None
            events = await collect_until(account, lambda es: bool(updates(es, "dl-deadman", "canceled")), STEP_S)
            assert any("dead man's switch fired" in e.message for e in of(ErrorEvent, events))
            assert account.open_orders == {} and simulator.engine.open_orders(DEFAULT_TEST_USER) == []


# -- T8: a cancel by refno alone ----------------------------------------------------------------


@pytest.mark.parametrize("dialect", dialects("cancel_by_refno"))
async def test_a_cancel_of_an_order_not_seen_goes_by_refno_or_not_at_all(dialect: MidchainsDialect) -> None:
    """``True``: the cancel goes without a security and the venue answers it has no such order;
    ``False``: the account refuses it before sending (it cannot know the security)."""
    with anyio.fail_after(2 * STEP_S):
        async with venue(dialect) as (simulator, account):
            if dialect.cancel_by_refno:
                with pytest.raises(sdk.RequestRejected, match="order not found"):
                    await account.cancel("0000UNSEEN0000")
            else:
                with pytest.raises(ValueError, match="T8"):
                    await account.cancel("0000UNSEEN0000")
            placed = await account.place(resting(account, simulator, client_order_id="dl-known"))
            assert placed.venue_order_id is not None
            await account.cancel(placed.venue_order_id)
            await collect_until(account, lambda es: bool(updates(es, "dl-known", "canceled")), STEP_S)
            assert account.open_orders == {}
