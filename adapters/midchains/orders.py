"""Midchains' order-level book, aggregated into the L2 levels every other exchange publishes.

Entries are keyed by id (as text, since ids may arrive as numbers or strings); each level's size is
the sum of its entries' quantities, indications of interest (``ioi``) excluded: they are not
executable and belong to no best bid or offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from adapters.midchains.wire import Entry
from sdk.wiretext import WireValueError

SIDES = ("B", "S")
_ZERO = Decimal(0)

_Resting = tuple[str, Decimal, Decimal, bool]
"""An entry as the book holds it: side, price, quantity, and whether it is an indication of interest."""


class OrderLevelBook:
    """One security's resting entries and the L2 totals derived from them."""

    def __init__(self) -> None:
        self._entries: dict[str, _Resting] = {}
        self.levels: dict[str, dict[Decimal, Decimal]] = {"B": {}, "S": {}}

    def clear(self) -> None:
        self._entries.clear()
        for side in SIDES:
            self.levels[side].clear()

    def apply(self, entries: Sequence[Entry], *, zero_qty_is_remove: bool, replace: bool = False) -> None:
        """Apply one message's entries in order, all or none: a bad entry raises before any is applied.

        A removal of an unknown id is ignored; an update may omit the side and price it already has.
        ``replace`` makes the entries the whole book (a snapshot).
        """
        changes = self._resolve(entries, zero_qty_is_remove, {} if replace else self._entries)
        if replace:
            self.clear()
        for key, resting in changes:
            self._withdraw(key)
            if resting is not None:
                self._rest(key, resting)

    @staticmethod
    def _resolve(
        entries: Sequence[Entry], zero_qty_is_remove: bool, held: dict[str, _Resting]
    ) -> list[tuple[str, _Resting | None]]:
        """What each entry leaves resting under its key (None: nothing), checked against ``held`` as the
        earlier entries of the same message leave it; raises ``WireValueError`` on the first bad entry."""
        pending: dict[str, _Resting | None] = {}
        changes: list[tuple[str, _Resting | None]] = []
        for entry in entries:
            key = str(entry.id)
            act = entry.act
            resting: _Resting | None = None
            if not (act == "R" or (act == "U" and zero_qty_is_remove and entry.qty == 0)):
                if act not in ("A", "U"):
                    raise WireValueError(f"unknown book action {act!r}")
                previous = pending[key] if key in pending else held.get(key)
                side = entry.side or (previous[0] if previous else None)
                price = entry.price if entry.price is not None else (previous[1] if previous else None)
                if side not in SIDES or price is None or entry.qty is None:
                    raise WireValueError(f"book entry {key} lacks a side, price or quantity")
                if not (price.is_finite() and entry.qty.is_finite()) or entry.qty < 0:
                    raise WireValueError(f"book entry {key} has an invalid price or quantity")
                resting = (side, price, entry.qty, entry.ioi)
            pending[key] = resting
            changes.append((key, resting))
        return changes

    def _rest(self, key: str, resting: _Resting) -> None:
        self._entries[key] = resting
        side, price, qty, ioi = resting
        if not ioi and qty > 0:  # an empty entry adds nothing to its level
            totals = self.levels[side]
            totals[price] = totals.get(price, _ZERO) + qty

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
