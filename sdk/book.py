"""A maintained L2 order book, exchange-agnostic, with checksum fragments cached per level.

Each side keeps three parallel lists in ascending price order: prices, quantities, and the
level's contribution to the exchange checksum. Bisect finds a level in a few comparisons; inserts
and deletes are memmoves, cheap even at depth 1000. The fragment is computed once when a level is
written, so verifying a checksum is one join and one hash, never a re-formatting of the book.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from schemas.events import BookLevel, BookSnapshot, BookUpdate


class ChecksumScheme(Protocol):
    """How one exchange checksums a book; adapters provide it, the engine applies it."""

    levels: int
    """How many levels per side the checksum covers."""

    def fragment(self, price: Decimal, qty: Decimal) -> str:
        """One level's contribution, computed when the level is written."""
        ...

    def checksum(self, asks: Sequence[str], bids: Sequence[str]) -> int:
        """The checksum from the best ``levels`` fragments of each side, best first."""
        ...


class BookSide:
    """One side of a book in ascending price order; ``bids`` reads it from the top end."""

    __slots__ = ("bids", "fragments", "prices", "qtys")

    def __init__(self, *, bids: bool) -> None:
        self.bids = bids
        self.prices: list[Decimal] = []
        self.qtys: list[Decimal] = []
        self.fragments: list[str] = []

    def __len__(self) -> int:
        return len(self.prices)

    def clear(self) -> None:
        self.prices.clear()
        self.qtys.clear()
        self.fragments.clear()

    def set(self, price: Decimal, qty: Decimal, fragment: str) -> None:
        """Write a level; a zero quantity deletes it (and a delete of an unknown price is a no-op)."""
        prices = self.prices
        index = bisect_left(prices, price)
        if index < len(prices) and prices[index] == price:
            if qty:
                self.qtys[index] = qty
                self.fragments[index] = fragment
            else:
                del prices[index], self.qtys[index], self.fragments[index]
        elif qty:
            prices.insert(index, price)
            self.qtys.insert(index, qty)
            self.fragments.insert(index, fragment)

    def truncate(self, depth: int) -> None:
        """Keep the best ``depth`` levels."""
        excess = len(self.prices) - depth
        if excess > 0:
            if self.bids:
                del self.prices[:excess], self.qtys[:excess], self.fragments[:excess]
            else:
                del self.prices[depth:], self.qtys[depth:], self.fragments[depth:]

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.bids else self.prices[0]

    def top(self, count: int) -> list[tuple[Decimal, Decimal]]:
        """The best ``count`` levels as (price, qty), best first."""
        if self.bids:
            start = max(len(self.prices) - count, 0)
            return list(zip(reversed(self.prices[start:]), reversed(self.qtys[start:]), strict=True))
        return list(zip(self.prices[:count], self.qtys[:count], strict=True))

    def top_fragments(self, count: int) -> list[str]:
        if self.bids:
            return self.fragments[-1 : -count - 1 : -1]
        return self.fragments[:count]


class OrderBook:
    """One symbol's book at a subscribed depth, optionally checksummed with ``scheme``."""

    __slots__ = ("asks", "bids", "depth", "scheme", "symbol", "updated_ns")

    def __init__(self, symbol: str, depth: int, scheme: ChecksumScheme | None) -> None:
        self.symbol = symbol
        self.depth = depth
        self.scheme = scheme
        self.bids = BookSide(bids=True)
        self.asks = BookSide(bids=False)
        self.updated_ns: int | None = None

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book."""
        self.bids.clear()
        self.asks.clear()
        self._write(self.bids, snapshot.bids)
        self._write(self.asks, snapshot.asks)
        self._finish(snapshot.ts_exchange or snapshot.ts_received)

    def apply_update(self, update: BookUpdate) -> None:
        """Apply levels in wire order, then cut both sides to the depth."""
        if update.bids:
            self._write(self.bids, update.bids)
        if update.asks:
            self._write(self.asks, update.asks)
        self._finish(update.ts_exchange or update.ts_received)

    def checksum(self) -> int | None:
        """The exchange checksum of the current book, if the exchange defines one."""
        scheme = self.scheme
        if scheme is None:
            return None
        return scheme.checksum(self.asks.top_fragments(scheme.levels), self.bids.top_fragments(scheme.levels))

    def crossed(self) -> bool:
        """Whether the best bid reaches the best ask: a book no exchange would publish."""
        bid, ask = self.bids.best(), self.asks.best()
        return bid is not None and ask is not None and bid >= ask

    def _write(self, side: BookSide, levels: tuple[BookLevel, ...]) -> None:
        scheme = self.scheme
        if scheme is None:
            for level in levels:
                side.set(level.price, level.qty, "")
            return
        fragment = scheme.fragment
        for level in levels:
            price, qty = level.price, level.qty
            side.set(price, qty, fragment(price, qty) if qty else "")

    def _finish(self, time_ns: int) -> None:
        self.bids.truncate(self.depth)
        self.asks.truncate(self.depth)
        self.updated_ns = time_ns
