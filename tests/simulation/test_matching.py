"""Properties of the venue-neutral matching engine, sans-I/O over the synthetic market."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kraken_common.instruments import INSTRUMENTS
from sdk.simulation.market import SyntheticMarket
from sdk.simulation.matching import MatchingEngine, OrderRejected, OrderSpec

START = {"USD": Decimal(50_000), "BTC": Decimal(2)}

place = st.tuples(
    st.just("place"),
    st.sampled_from(["buy", "sell"]),
    st.sampled_from(["limit", "market"]),
    st.integers(1, 8_000),  # lots
    st.integers(-30, 30),  # ticks from the mid
    st.sampled_from(["gtc", "ioc", "fok"]),
    st.booleans(),
)
operations = st.lists(st.one_of(place, st.just(("step",)), st.just(("cancel",))), max_size=40)


def engine(seed: int = 1) -> MatchingEngine:
    counter = itertools.count()
    market = SyntheticMarket(INSTRUMENTS[:1], seed=seed)
    result = MatchingEngine(market, new_order_id=lambda: f"O{next(counter)}", new_fill_id=lambda: f"T{next(counter)}")
    result.open_account("a", dict(START))
    return result


@settings(max_examples=60, deadline=None)
@given(operations, st.integers(1, 5))
def test_fills_respect_orders_and_balances_are_conserved(ops: list[tuple[object, ...]], seed: int) -> None:
    matching = engine(seed)
    state = matching.market.state("BTC/USD")
    now = 0
    refusals: list[str] = []
    for op in ops:
        now += 1_000_000
        if op[0] == "place":
            _, side, kind, lots, ticks, tif, post_only = op
            mid = (state.bids.best() + state.asks.best()) / 2  # type: ignore[operator]
            price = (mid + ticks * state.instrument.tick).quantize(state.instrument.tick) if kind == "limit" else None
            spec = OrderSpec(
                symbol="BTC/USD",
                side=side,  # type: ignore[arg-type]
                kind=kind,  # type: ignore[arg-type]
                qty=lots * state.instrument.lot,
                price=price,
                time_in_force=tif,  # type: ignore[arg-type]
                post_only=post_only and kind == "limit",
            )
            try:
                matching.place("a", spec, now)
            except OrderRejected as rejected:
                refusals.append(rejected.reason)
        elif op[0] == "step":
            matching.tick(matching.market.step(now), now)
        elif matching.open_orders("a"):
            matching.cancel(matching.open_orders("a")[0], now)
        for holding in matching.holdings("a").values():
            assert holding.held >= 0
            assert holding.available >= 0
    assert set(refusals) <= {OrderRejected.INSUFFICIENT_FUNDS, OrderRejected.POST_ONLY_WOULD_TAKE}
    orders = {o.venue_id: o for o in matching.open_orders("a") + matching.closed_orders("a")}
    fills = matching.fills("a", last=10_000)
    for order in orders.values():
        assert order.spec.qty is None or order.filled <= order.spec.qty
    for fill in fills:
        spec = orders[fill.venue_id].spec
        if spec.price is not None:
            assert fill.price <= spec.price if fill.side == "buy" else fill.price >= spec.price
        if spec.post_only:
            assert fill.liquidity == "maker"
    sign = {"buy": 1, "sell": -1}
    holdings = matching.holdings("a")
    assert holdings["BTC"].total == START["BTC"] + sum((sign[f.side] * f.qty for f in fills), Decimal(0))
    spent = sum((sign[f.side] * f.qty * f.price + f.fee for f in fills), Decimal(0))
    assert holdings["USD"].total == START["USD"] - spent
    matching.cancel_all("a", now)
    assert all(h.held == 0 for h in matching.holdings("a").values())


def test_post_only_that_would_take_is_refused_and_holds_nothing() -> None:
    matching = engine()
    ask = matching.market.state("BTC/USD").asks.best()
    spec = OrderSpec(symbol="BTC/USD", side="buy", kind="limit", qty=Decimal("0.1"), price=ask, post_only=True)
    with pytest.raises(OrderRejected) as rejected:
        matching.place("a", spec, 0)
    assert rejected.value.reason == OrderRejected.POST_ONLY_WOULD_TAKE
    assert matching.holdings("a")["USD"].held == 0


def test_insufficient_funds_and_cancel_releases_the_hold() -> None:
    matching = engine()
    bid = matching.market.state("BTC/USD").bids.best()
    assert bid is not None
    low = bid - 100
    too_big = OrderSpec(symbol="BTC/USD", side="buy", kind="limit", qty=Decimal(100), price=low)
    with pytest.raises(OrderRejected) as rejected:
        matching.place("a", too_big, 0)
    assert rejected.value.reason == OrderRejected.INSUFFICIENT_FUNDS
    order, _ = matching.place("a", OrderSpec(symbol="BTC/USD", side="buy", kind="limit", qty=Decimal(1), price=low), 0)
    assert matching.holdings("a")["USD"].held == low * (1 + matching.taker_fee)
    matching.cancel(order, 1)
    assert matching.holdings("a")["USD"].held == 0


def test_dead_mans_switch_cancels_everything_once_due() -> None:
    matching = engine()
    bid = matching.market.state("BTC/USD").bids.best()
    assert bid is not None
    matching.place("a", OrderSpec(symbol="BTC/USD", side="buy", kind="limit", qty=Decimal(1), price=bid - 100), 0)
    matching.arm_dead_man("a", 5_000, 0)
    assert matching.tick([], 4_999) == []
    assert [r.order.status for r in matching.tick([], 5_000)] == ["canceled"]  # type: ignore[union-attr]
    assert matching.open_orders("a") == []


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["buy", "sell"]), st.integers(1, 40), st.integers(1, 5), st.sampled_from(["limit", "market"]))
def test_a_stop_order_waits_until_the_market_trades_at_its_stop(side: str, ticks: int, seed: int, kind: str) -> None:
    matching = engine(seed)
    state = matching.market.state("BTC/USD")
    tick = state.instrument.tick
    stop = state.last_price + ticks * tick if side == "buy" else state.last_price - ticks * tick
    price = stop + 50 * tick if side == "buy" else stop - 50 * tick
    spec = OrderSpec(
        symbol="BTC/USD",
        side=side,  # type: ignore[arg-type]
        kind=kind,  # type: ignore[arg-type]
        qty=Decimal("0.01"),
        price=price if kind == "limit" else None,
        time_in_force="ioc",
        stop_price=stop,
    )
    order, records = matching.place("a", spec, 0)
    assert len(records) == 1 and order.open and not order.triggered
    reached = False
    for now in range(1, 200):
        steps = matching.market.step(now)
        before = order.filled
        matching.tick(steps, now)
        reached = reached or any(t.price >= stop if side == "buy" else t.price <= stop for s in steps for t in s.trades)
        if not reached:
            assert order.open and order.filled == before == 0 and not order.triggered
        else:
            assert order.triggered and not order.open  # immediate or cancel once triggered
            break
    if reached:
        assert all(h.held == 0 for h in matching.holdings("a").values())


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 10_000), st.sampled_from(["buy", "sell"]))
def test_an_order_with_an_expiry_is_expired_at_it_and_holds_nothing_after(expire: int, side: str) -> None:
    matching = engine()
    state = matching.market.state("BTC/USD")
    far = 500 * state.instrument.tick
    price = state.bids.best() - far if side == "buy" else state.asks.best() + far  # type: ignore[operator]
    spec = OrderSpec(
        symbol="BTC/USD",
        side=side,  # type: ignore[arg-type]
        kind="limit",
        qty=Decimal("0.01"),
        price=price,
        expire_ns=expire,
    )
    order, _ = matching.place("a", spec, 0)
    assert matching.tick([], expire - 1) == [] and order.open
    closed = matching.tick([], expire)
    assert [r.order.status for r in closed] == ["expired"]  # type: ignore[union-attr]
    assert all(h.held == 0 for h in matching.holdings("a").values())
    with pytest.raises(OrderRejected):
        matching.place("a", spec, expire)
