"""A maintained L2 order book, exchange-agnostic, with checksum fragments cached per level.

Each side keeps three parallel lists in ascending price order: prices, quantities, and the
level's contribution to the exchange checksum. Bisect finds a level in a few comparisons; inserts
and deletes are memmoves, cheap even at depth 1000. A level's fragment is computed when the level
first counts toward a checksum (the best few of a side) and kept until the level changes, so
verifying a checksum is one join and one hash, never a re-formatting of the book, and the deep
levels of a large book, which no checksum reads, carry no text at all.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from decimal import Decimal

from schemas.events import BookLevel, BookSnapshot, BookUpdate
from sdk.contract import ChecksumScheme


class BookSide:
    """One side of a book in ascending price order; ``bids`` reads it from the top end."""

    __slots__ = ("bids", "fragments", "prices", "qtys")

    def __init__(self, *, bids: bool) -> None:
        self.bids = bids
        self.prices: list[Decimal] = []
        self.qtys: list[Decimal] = []
        self.fragments: list[str | None] = []
        """Each level's checksum fragment; None until a checksum reads the level."""

    def clear(self) -> None:
        self.prices.clear()
        self.qtys.clear()
        self.fragments.clear()

    def top_text(self, count: int, fragment: Callable[[Decimal, Decimal], str]) -> bytes:
        """The fragments of the best ``count`` levels, best first, concatenated; ``fragment`` makes
        those not made yet."""
        fragments = self.fragments
        best = fragments[-1 : -count - 1 : -1] if self.bids else fragments[:count]
        if None in best:
            size = len(fragments)
            for index in range(size - len(best), size) if self.bids else range(len(best)):
                if fragments[index] is None:
                    fragments[index] = fragment(self.prices[index], self.qtys[index])
            best = fragments[-1 : -count - 1 : -1] if self.bids else fragments[:count]
        return "".join(best).encode()  # type: ignore[arg-type]  # every one is made now

    def write(self, levels: tuple[BookLevel, ...]) -> None:
        """Write levels in order; a zero quantity deletes (a delete of an unknown price is a no-op)."""
        prices, qtys, fragments = self.prices, self.qtys, self.fragments
        for level in levels:
            price, qty = level.price, level.qty
            index = bisect_left(prices, price)
            if index < len(prices) and prices[index] == price:
                if qty:
                    qtys[index] = qty
                    fragments[index] = None
                else:
                    del prices[index], qtys[index], fragments[index]
            elif qty:
                prices.insert(index, price)
                qtys.insert(index, qty)
                fragments.insert(index, None)

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


class OrderBook:
    """One symbol's book at a subscribed depth, optionally checksummed with ``scheme``.

    The checksum text of each side's top is kept until that side changes, so a message that
    touches one side re-joins only that side.
    """

    __slots__ = ("_asks_text", "_bids_text", "asks", "bids", "depth", "scheme", "symbol", "updated_ns")

    def __init__(self, symbol: str, depth: int, scheme: ChecksumScheme | None) -> None:
        self.symbol = symbol
        self.depth = depth
        self.scheme = scheme
        self.bids = BookSide(bids=True)
        self.asks = BookSide(bids=False)
        self.updated_ns: int | None = None
        self._asks_text: bytes | None = None
        self._bids_text: bytes | None = None

    def apply_snapshot(self, snapshot: BookSnapshot) -> None:
        """Replace the whole book."""
        self.bids.clear()
        self.asks.clear()
        self.bids.write(snapshot.bids)
        self.asks.write(snapshot.asks)
        self.bids.truncate(self.depth)
        self.asks.truncate(self.depth)
        self._asks_text = self._bids_text = None
        self.updated_ns = snapshot.ts_exchange or snapshot.ts_received

    def apply_update(self, update: BookUpdate) -> None:
        """Apply levels in wire order, then cut both sides to the depth."""
        bids, asks, depth = self.bids, self.asks, self.depth
        if update.bids:
            bids.write(update.bids)
            if len(bids.prices) > depth:
                bids.truncate(depth)
            self._bids_text = None
        if update.asks:
            asks.write(update.asks)
            if len(asks.prices) > depth:
                asks.truncate(depth)
            self._asks_text = None
        self.updated_ns = update.ts_exchange or update.ts_received

    def checksum(self) -> int | None:
        """The exchange checksum of the current book, if the exchange defines one."""
        scheme = self.scheme
        if scheme is None:
            return None
        asks_text = self._asks_text
        if asks_text is None:
            asks_text = self._asks_text = self.asks.top_text(scheme.levels, scheme.fragment)
        bids_text = self._bids_text
        if bids_text is None:
            bids_text = self._bids_text = self.bids.top_text(scheme.levels, scheme.fragment)
        return scheme.checksum(asks_text, bids_text)
