"""The book a depth-limited subscriber holds, and the updates that keep it exact.

Exchanges that publish "the top N levels" (Kraken among them) send, after each change: an
explicit deletion for a level that left the book, new and changed levels inside the window, and
levels that entered the window from below because others left it (Kraken v1 flags those ``r``).
A level pushed out by an insert is not mentioned: the subscriber's depth cut removes it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sdk.simulation.market import BookSide, InstrumentState

Level = tuple[Decimal, Decimal]


@dataclass(frozen=True)
class LevelChange:
    price: Decimal
    qty: Decimal
    """Zero for a deletion."""
    refill: bool = False
    """The level entered the window from below because another one left it."""


class DepthWindow:
    """One subscriber's view of one book at one depth."""

    def __init__(self, state: InstrumentState, depth: int) -> None:
        self.depth = depth
        self.bids: list[Level] = state.bids.top(depth)
        self.asks: list[Level] = state.asks.top(depth)

    def advance(self, state: InstrumentState) -> tuple[list[LevelChange], list[LevelChange]]:
        """The (bid, ask) changes since the last call; the window then matches the book."""
        bids, asks = state.bids.top(self.depth), state.asks.top(self.depth)
        bid_changes = self._changes(self.bids, bids, state.bids, worse=operator.lt)
        ask_changes = self._changes(self.asks, asks, state.asks, worse=operator.gt)
        self.bids, self.asks = bids, asks
        return bid_changes, ask_changes

    def _changes(
        self, old: list[Level], new: list[Level], book: BookSide, worse: Callable[[Decimal, Decimal], bool]
    ) -> list[LevelChange]:
        held = dict(old)
        now = dict(new)
        changes = [LevelChange(price, Decimal(0)) for price, _ in old if price not in now and price not in book.qty]
        worst = old[-1][0] if len(old) == self.depth else None
        for price, qty in new:
            if held.get(price) == qty:
                continue
            refill = price not in held and worst is not None and worse(price, worst)
            changes.append(LevelChange(price, qty, refill))
        return changes
