"""Client-side emulation of a venue's per-pair trading rate counter, so an account refuses a
transaction the venue would reject for its rate instead of sending it and being rejected.

The model is Kraken's (its notes, §4.8 of the trading protocol): each symbol has a counter that every
transaction raises by a cost, fixed per kind of transaction plus a penalty for amending or cancelling
a young order, and that decays linearly to zero; above a threshold the venue rejects. A venue's
numbers come from its adapter (``adapters.kraken.ratelimits``); this engine knows none of them.

Sans-I/O: ``now`` is a monotonic time in seconds, passed in. The counter is kept in exact fractions,
so a transaction ``check`` admits never takes it past the threshold and waiting the seconds ``check``
returns always makes the transaction fit, whatever float rounding does to the times passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from sdk.errors import RateLimited


@dataclass(frozen=True)
class RateTier:
    """The counter's ``threshold``, above which the venue rejects, and how much it decays a second."""

    threshold: float
    decay_per_s: float

    def __post_init__(self) -> None:
        if not (self.threshold > 0 and self.decay_per_s > 0 and math.isfinite(self.threshold + self.decay_per_s)):
            raise ValueError(f"a rate tier needs a positive threshold and decay, not {self}")


@dataclass(frozen=True, kw_only=True)
class TransactionCost:
    """What one kind of transaction adds to the counter: ``fixed``, plus ``per_order`` for each order
    it carries (a batch), plus the penalty of the first ``(younger_than_s, penalty)`` band of
    ``age_penalties`` (youngest first) that the age of the order amended or cancelled falls in."""

    fixed: float = 0
    per_order: float = 0
    age_penalties: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        ages = [age for age, _ in self.age_penalties]
        if ages != sorted(ages):
            raise ValueError(f"age penalty bands must run youngest first, not {self.age_penalties}")

    def at(self, order_age_s: float | None, orders: int) -> Fraction:
        """The cost for ``orders`` orders whose age is ``order_age_s``; an age not known (None) is
        charged as the youngest, as the venue may have received the order only just now."""
        penalty = next(
            (p for younger_than, p in self.age_penalties if order_age_s is None or order_age_s < younger_than), 0.0
        )
        return Fraction(self.fixed) + Fraction(self.per_order) * orders + Fraction(penalty)


_COSTS_KEPT = 1024
"""Bound of the cost memo: ages vary per order, so amend and cancel keys are many."""

CostTable = Mapping[str, TransactionCost]
"""A venue's transaction costs, by the name of the transaction (``add``, ``cancel``...)."""


class TradingRateCounter:
    """One trading rate counter per symbol, for one account at one ``tier``, charged by ``costs``."""

    def __init__(self, tier: RateTier, costs: CostTable) -> None:
        self.tier = tier
        self._costs = costs
        self._threshold = Fraction(tier.threshold)
        self._decay = Fraction(tier.decay_per_s)
        self._empty_at: dict[str, Fraction] = {}
        """When each symbol's counter will have decayed to zero if nothing more is charged."""
        self._costs_known: dict[tuple[str, float | None, int], Fraction] = {}
        """Costs computed before, by transaction, age and orders: an account pays the same few often."""

    def cost(self, transaction: str, order_age_s: float | None, *, orders: int = 1) -> float:
        """What ``transaction`` adds to the counter, for ``orders`` orders (a batch) whose age is
        ``order_age_s`` seconds (None: not known, or no order yet)."""
        return float(self._cost(transaction, order_age_s, orders))

    def level(self, symbol: str, now: float) -> float:
        """The counter of ``symbol`` at ``now``."""
        at = Fraction(now)
        return float(max(Fraction(0), (self._empty_at.get(symbol, at) - at) * self._decay))

    def check(
        self, symbol: str, transaction: str, order_age_s: float | None, now: float, *, orders: int = 1
    ) -> float | None:
        """None if ``transaction`` fits under the threshold at ``now``, else the seconds to wait
        until it does. A transaction that costs more than the threshold never fits: ``ValueError``."""
        return self._wait(symbol, transaction, self._cost(transaction, order_age_s, orders), now)

    def _wait(self, symbol: str, transaction: str, cost: Fraction, now: float) -> float | None:
        if cost > self._threshold:
            raise ValueError(f"{transaction} costs {float(cost):g}, more than the threshold {self.tier.threshold:g}")
        empty_at = self._empty_at.get(symbol)
        if empty_at is None:
            return None
        fits_from = empty_at - (self._threshold - cost) / self._decay
        at = Fraction(now)
        if at >= fits_from:
            return None
        return _float_at_least(Fraction(_float_at_least(fits_from)) - at)

    def charge(self, symbol: str, transaction: str, order_age_s: float | None, now: float, *, orders: int = 1) -> None:
        """Count ``transaction`` as sent at ``now``. The venue counts what it receives, so this
        charges whether or not ``check`` admitted it."""
        self._charge(symbol, self._cost(transaction, order_age_s, orders), now)

    def _charge(self, symbol: str, cost: Fraction, now: float) -> None:
        at = Fraction(now)
        empty_at = self._empty_at.get(symbol)
        self._empty_at[symbol] = (at if empty_at is None or empty_at < at else empty_at) + cost / self._decay

    def admit(self, symbol: str, transaction: str, order_age_s: float | None, now: float, *, orders: int = 1) -> None:
        """Charge ``transaction`` if it fits, else raise ``RateLimited`` and charge nothing: what an
        account does before it sends one."""
        cost = self._cost(transaction, order_age_s, orders)
        wait_s = self._wait(symbol, transaction, cost, now)
        if wait_s is not None:
            raise RateLimited(symbol, self.level(symbol, now), self.tier.threshold, wait_s)
        self._charge(symbol, cost, now)

    def saturate(self, symbol: str, now: float) -> None:
        """The venue said its rate limit for ``symbol`` is exceeded: its counter is at the threshold
        whatever this one thought, so wait for the whole of it to decay."""
        self._empty_at[symbol] = Fraction(now) + self._threshold / self._decay

    def _cost(self, transaction: str, order_age_s: float | None, orders: int) -> Fraction:
        known = self._costs_known.get((transaction, order_age_s, orders))
        if known is not None:
            return known
        cost = self._costs.get(transaction)
        if cost is None:
            raise ValueError(f"no cost known for {transaction!r}; known: {', '.join(self._costs)}")
        if len(self._costs_known) >= _COSTS_KEPT:
            self._costs_known.clear()
        known = self._costs_known[transaction, order_age_s, orders] = cost.at(order_age_s, orders)
        return known


def _float_at_least(value: Fraction) -> float:
    """The smallest float not below ``value``: a time or wait rounded so that it is never early."""
    nearest = float(value)
    return nearest if Fraction(nearest) >= value else math.nextafter(nearest, math.inf)
