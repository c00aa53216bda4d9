"""The book a depth-limited subscriber holds, and the updates that keep it exact.

Exchanges that publish "the top N levels" (Kraken among them) send, after each change: an
explicit deletion for a level that left the book, new and changed levels inside the window, and
levels that entered the window from below because others left it (Kraken v1 flags those ``r``).
A level pushed out by an insert is not mentioned: the subscriber's depth cut removes it.
"""

from __future__ import annotations

from sdk.l2diff import Level, LevelChange, window_changes
from sdk.simulation.market import InstrumentState


class DepthWindow:
    """One subscriber's view of one book at one depth."""

    def __init__(self, state: InstrumentState, depth: int) -> None:
        self.depth = depth
        self.bids: list[Level] = state.bids.top(depth)
        self.asks: list[Level] = state.asks.top(depth)

    def advance(self, state: InstrumentState) -> tuple[list[LevelChange], list[LevelChange]]:
        """The (bid, ask) changes since the last call; the window then matches the book."""
        bids, asks = state.bids.top(self.depth), state.asks.top(self.depth)
        bid_changes = window_changes(self.bids, bids, depth=self.depth, bids=True, listed=state.bids.qty)
        ask_changes = window_changes(self.asks, asks, depth=self.depth, bids=False, listed=state.asks.qty)
        self.bids, self.asks = bids, asks
        return bid_changes, ask_changes
