"""The trading rate counter rises by each transaction's cost, decays at its tier's rate, and admits
exactly what fits under the threshold."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sdk.errors import RateLimited
from sdk.ratelimit import RateTier, TradingRateCounter, TransactionCost

COSTS = {
    "add": TransactionCost(fixed=1),
    "cancel": TransactionCost(age_penalties=((5, 8), (10, 6), (300, 1))),
    "batch": TransactionCost(fixed=1, per_order=0.5),
}
TIERS = [RateTier(60, 1.0), RateTier(125, 2.34), RateTier(180, 3.75), RateTier(9.5, 0.3)]

tiers = st.sampled_from(TIERS)
times = st.floats(0, 1e7, allow_nan=False)
ages = st.none() | st.floats(0, 400, allow_nan=False)
gaps = st.floats(0, 30, allow_nan=False)
transactions = st.lists(st.tuples(gaps, st.sampled_from(["add", "cancel"]), ages), max_size=60)
"""Transactions, each the seconds after the one before, its name and the age of its order."""


def counter(tier: RateTier = TIERS[0]) -> TradingRateCounter:
    return TradingRateCounter(tier, COSTS)


def test_cost_is_fixed_plus_per_order_plus_the_penalty_of_the_order_age() -> None:
    c = counter()
    assert c.cost("add", None) == 1
    assert [c.cost("cancel", age) for age in (0, 4.99, 5, 9.99, 10, 299.99, 300, 1e6)] == [8, 8, 6, 6, 1, 1, 0, 0]
    assert c.cost("cancel", None) == 8  # an order of unknown age is charged as the youngest
    assert c.cost("batch", None, orders=15) == 8.5


def test_unknown_transactions_and_disordered_bands_are_refused() -> None:
    with pytest.raises(ValueError, match="no cost known for 'edit'; known: add, cancel, batch"):
        counter().cost("edit", 3)
    with pytest.raises(ValueError, match="youngest first"):
        TransactionCost(age_penalties=((10, 1), (5, 2)))
    with pytest.raises(ValueError, match="positive threshold and decay"):
        RateTier(60, 0)


def test_a_transaction_costlier_than_the_threshold_never_fits() -> None:
    with pytest.raises(ValueError, match=re.escape("costs 31, more than the threshold 9.5")):
        counter(RateTier(9.5, 0.3)).check("BTC/USD", "batch", None, 0, orders=60)


def test_symbols_have_counters_of_their_own() -> None:
    c = counter()
    for _ in range(60):
        c.admit("BTC/USD", "add", None, 100.0)
    assert c.check("BTC/USD", "add", None, 100.0) == pytest.approx(1.0)
    assert c.check("ETH/USD", "add", None, 100.0) is None
    assert c.level("ETH/USD", 100.0) == 0


def test_admit_raises_rate_limited_naming_symbol_level_and_threshold_and_charges_nothing() -> None:
    c = counter()
    for _ in range(55):
        c.charge("BTC/USD", "add", None, 10.0)
    with pytest.raises(RateLimited) as caught:
        c.admit("BTC/USD", "cancel", 1.0, 10.0)
    assert caught.value.wait_s == pytest.approx(3.0)
    assert (caught.value.symbol, caught.value.level, caught.value.threshold) == ("BTC/USD", 55, 60)
    assert str(caught.value) == "BTC/USD: trading rate counter at 55.00 of 60; fits again in 3.000 s"
    assert c.level("BTC/USD", 10.0) == 55


@given(tiers, times, transactions, gaps)
def test_the_level_never_goes_negative_and_decays_at_the_tier_rate(
    tier: RateTier, start: float, history: list[tuple[float, str, float | None]], later: float
) -> None:
    c, now = counter(tier), start
    for gap, transaction, age in history:
        now += gap
        before = c.level("BTC/USD", now)
        c.charge("BTC/USD", transaction, age, now)
        assert c.level("BTC/USD", now) == pytest.approx(before + c.cost(transaction, age))
    level = c.level("BTC/USD", now)
    assert level >= 0
    assert c.level("BTC/USD", now + later) == pytest.approx(max(0.0, level - later * tier.decay_per_s), abs=1e-6)
    assert c.level("BTC/USD", now + level / tier.decay_per_s + 1e-3) == 0


@given(tiers, times, transactions, st.sampled_from(["add", "cancel"]), ages)
def test_what_check_admits_never_exceeds_the_threshold_and_waiting_as_told_makes_it_fit(
    tier: RateTier, start: float, history: list[tuple[float, str, float | None]], transaction: str, age: float | None
) -> None:
    c, now = counter(tier), start
    for gap, name, order_age in history:
        now += gap
        wait = c.check("BTC/USD", name, order_age, now)
        if wait is None:
            c.charge("BTC/USD", name, order_age, now)
            assert c.level("BTC/USD", now) <= tier.threshold
        else:
            assert wait > 0
            assert c.level("BTC/USD", now) + c.cost(name, order_age) > tier.threshold
    wait = c.check("BTC/USD", transaction, age, now)
    if wait is not None:
        level_then = c.level("BTC/USD", now + wait)
        assert level_then + c.cost(transaction, age) == pytest.approx(tier.threshold)  # no longer than needed
        assert c.check("BTC/USD", transaction, age, now + wait) is None
        c.charge("BTC/USD", transaction, age, now + wait)
        assert c.level("BTC/USD", now + wait) <= tier.threshold


@given(tiers, times, transactions, st.sampled_from(["add", "cancel"]), ages)
def test_after_saturating_the_whole_threshold_decays_before_anything_fits(
    tier: RateTier, start: float, history: list[tuple[float, str, float | None]], transaction: str, age: float | None
) -> None:
    c, now = counter(tier), start
    for gap, name, order_age in history:
        now += gap
        c.charge("BTC/USD", name, order_age, now)
    c.saturate("BTC/USD", now)
    assert c.level("BTC/USD", now) == pytest.approx(tier.threshold)
    assume(c.cost(transaction, age) > 0)  # a cancel of an old order costs nothing and always fits
    assert c.check("BTC/USD", transaction, age, now) is not None
    assert c.check("BTC/USD", transaction, age, now + tier.threshold / tier.decay_per_s) is None
