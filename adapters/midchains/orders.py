"""Midchains' order-level book, aggregated into the L2 levels every other exchange publishes.

Entries are keyed by id (as text, since ids may arrive as numbers or strings); each level's size is
the sum of its entries' quantities, indications of interest (``ioi``) excluded: they are not
executable and belong to no best bid or offer.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.midchains.wire import Entry
from sdk.wiretext import WireValueError

SIDES = ("B", "S")
_ZERO = Decimal(0)


class OrderLevelBook:
    """One security's resting entries and the L2 totals derived from them."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, Decimal, Decimal, bool]] = {}
        self.levels: dict[str, dict[Decimal, Decimal]] = {"B": {}, "S": {}}

    def clear(self) -> None:
        self._entries.clear()
        for side in SIDES:
            self.levels[side].clear()

    def apply(self, entry: Entry, *, zero_qty_is_remove: bool) -> None:
        """Add, update or remove one entry; a removal of an unknown id is ignored."""
        key = str(entry.id)
        act = entry.act
        if act == "R" or (act == "U" and zero_qty_is_remove and entry.qty == 0):
            self._withdraw(key)
            return
        if act not in ("A", "U"):
            raise WireValueError(f"unknown book action {act!r}")
        previous = self._entries.get(key)
        side = entry.side or (previous[0] if previous else None)
        price = entry.price if entry.price is not None else (previous[1] if previous else None)
        if side not in SIDES or price is None or entry.qty is None:
            raise WireValueError(f"book entry {key} lacks a side, price or quantity")
        if not (price.is_finite() and entry.qty.is_finite()) or entry.qty < 0:
            raise WireValueError(f"book entry {key} has an invalid price or quantity")
        self._withdraw(key)
        self._entries[key] = (side, price, entry.qty, entry.ioi)
        if not entry.ioi and entry.qty > 0:  # an empty entry adds nothing to its level
            totals = self.levels[side]
            totals[price] = totals.get(price, _ZERO) + entry.qty

    def top(self, side: str, depth: int) -> list[tuple[Decimal, Decimal]]:
        """The best ``depth`` levels of a side as (price, total), best first."""
        totals = self.levels[side]
        prices = sorted(totals, reverse=side == "B")[:depth]
        return [(price, totals[price]) for price in prices]

    def _withdraw(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None or entry[3]:
            return
        side, price, qty, _ = entry
        totals = self.levels[side]
        remaining = totals.get(price, _ZERO) - qty
        if remaining > 0:
            totals[price] = remaining
        else:
            totals.pop(price, None)
