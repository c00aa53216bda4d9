"""The level changes that keep a subscriber's top-N window of an L2 book exact.

A subscriber to "the top N levels" holds a window of them. After the book moves it needs a
deletion for each level that left the window, and every level that is new or changed inside it.
Two refinements serve venues that publish this way (Kraken among them): a level that left the
window but is still listed in the book was pushed out by better ones, so the subscriber's own depth
cut removes it and it need not be mentioned; and a level that entered the window from below because
others left it is flagged as a refill (Kraken v1 marks those ``r``).

Pure and shared: the Midchains codec turns its order-level book into L2 updates with it, and the
simulators render depth-limited updates with it.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from decimal import Decimal

Level = tuple[Decimal, Decimal]
"""(price, quantity)."""


@dataclass(frozen=True, slots=True)
class LevelChange:
    price: Decimal
    qty: Decimal
    """Zero for a deletion."""
    refill: bool = False
    """The level entered the window from below because another one left it."""


def window_changes(
    held: Sequence[Level],
    now: Sequence[Level],
    *,
    depth: int,
    bids: bool,
    listed: Container[Decimal] = (),
) -> list[LevelChange]:
    """The changes turning the window ``held`` into ``now`` (both best first, at most ``depth`` levels).

    Deletions come first, in ``held`` order, then new and changed levels in ``now`` order. A price
    that left the window but is in ``listed`` (the whole book side) gets no deletion; with the
    default, every departure is deleted explicitly.
    """
    held_qty = dict(held)
    now_qty = dict(now)
    changes = [LevelChange(price, Decimal(0)) for price, _ in held if price not in now_qty and price not in listed]
    worst = held[-1][0] if len(held) == depth else None
    for price, qty in now:
        if held_qty.get(price) == qty:
            continue
        refill = price not in held_qty and worst is not None and (price < worst if bids else price > worst)
        changes.append(LevelChange(price, qty, refill))
    return changes
