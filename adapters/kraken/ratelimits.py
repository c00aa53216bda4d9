"""Kraken's trading rate counter: its tiers and what each transaction costs (Kraken's spot trading
rate limit documentation), for ``sdk.ratelimit.TradingRateCounter``.

The counter is per account and per pair, shared by REST, WebSocket and FIX, so a client's emulation
is a lower bound: orders sent by other programs on the same account raise it too, and the venue's
``EOrder:Rate limit exceeded`` then means ``saturate``. Kraken charges even a transaction it rejects.
"""

from __future__ import annotations

from typing import Final

from sdk.ratelimit import CostTable, RateTier, TradingRateCounter, TransactionCost

STARTER: Final = RateTier(threshold=60, decay_per_s=1.0)
INTERMEDIATE: Final = RateTier(threshold=125, decay_per_s=2.34)
PRO: Final = RateTier(threshold=180, decay_per_s=3.75)
TIERS: Final = {"starter": STARTER, "intermediate": INTERMEDIATE, "pro": PRO}

COSTS: Final[CostTable] = {
    "add": TransactionCost(fixed=1),
    "amend": TransactionCost(fixed=1, age_penalties=((5, 3), (10, 2), (15, 1))),
    "cancel": TransactionCost(age_penalties=((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))),
    "batch_add": TransactionCost(fixed=1, per_order=0.5),
}
"""Costs by transaction. ``amend`` is ``amend_order`` (in place); a cancel of an order five minutes
old or more costs nothing. Kraken's page cuts off the batch row after ``n/2``; the fixed 1 added here
is what the kraken-async-rs client charges, the safer reading."""


def tier_for(max_rate_count: int) -> RateTier:
    """The tier whose threshold is ``max_rate_count``, the ``maxratecount`` Kraken reports when the
    ``executions`` channel is subscribed (the only place the wire says the account's tier). A
    threshold not published is kept, with the slowest published decay, so the emulation errs early."""
    for tier in TIERS.values():
        if tier.threshold == max_rate_count:
            return tier
    return RateTier(threshold=max_rate_count, decay_per_s=min(tier.decay_per_s for tier in TIERS.values()))


def trading_rate_counter(tier: RateTier = STARTER) -> TradingRateCounter:
    """A counter for an account at ``tier`` (Starter, the strictest, until the venue says which)."""
    return TradingRateCounter(tier, COSTS)
