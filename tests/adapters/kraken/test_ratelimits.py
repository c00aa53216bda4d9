"""Kraken's trading rate counter: its published tiers and costs, and the tier the wire reports."""

from __future__ import annotations

import json

import pytest

from adapters.kraken.ratelimits import INTERMEDIATE, PRO, STARTER, tier_for, trading_rate_counter
from sdk.errors import RateLimited
from sdk.ratelimit import RateTier
from tests.conftest import fixture_lines


def test_the_published_costs() -> None:
    c = trading_rate_counter()
    assert c.cost("add", None) == 1
    assert [c.cost("amend", age) for age in (0, 5, 10, 15)] == [4, 3, 2, 1]
    assert [c.cost("cancel", age) for age in (0, 5, 10, 15, 45, 90, 300)] == [8, 6, 5, 4, 2, 1, 0]
    assert [c.cost("batch_add", None, orders=n) for n in (2, 15)] == [2, 8.5]


def test_the_tiers_reported_by_real_executions_subscriptions() -> None:
    reported = [json.loads(line)["result"]["maxratecount"] for line in fixture_lines("kraken/v2_private.jsonl")
                if '"maxratecount"' in line]  # fmt: skip
    assert [tier_for(count) for count in reported] == [PRO, INTERMEDIATE]


def test_a_threshold_not_published_decays_at_the_slowest_rate() -> None:
    assert tier_for(60) is STARTER
    assert tier_for(100) == RateTier(threshold=100, decay_per_s=1.0)


def test_a_starter_account_places_sixty_orders_at_once_then_one_a_second() -> None:
    c = trading_rate_counter(STARTER)
    for _ in range(60):
        c.admit("BTC/USD", "add", None, 0.0)
    with pytest.raises(RateLimited) as caught:
        c.admit("BTC/USD", "add", None, 0.0)
    assert caught.value.wait_s == 1.0
    c.admit("BTC/USD", "add", None, 1.0)
    assert c.check("BTC/USD", "cancel", 2.0, 1.0) == 8.0  # cancelling a young order is dear
