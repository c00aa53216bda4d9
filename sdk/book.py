"""A maintained L2 order book, exchange-agnostic, with checksum fragments cached per level.

A side keeps parallel columns in ascending price order, in one of two layouts chosen by the book's
depth. A shallow book (the usual 10 or 25 levels) keeps each level's price and quantity as the
``Decimal`` objects the events carried: nothing to convert on a write or a read, the fastest path
for the books a checksum covers whole. A deep book keeps them without ``Decimal`` objects: its
price as an integer on a scale shared by the whole side (so comparing two stored prices is
comparing two integers, exact whatever exponents the levels arrived with) plus the price's own
exponent, and its quantity as an integer mantissa plus exponent, in ``array`` columns of 8-byte
and 1-byte cells: about a tenth of the memory, which is what a thousand levels of a hundred
symbols need. A value that does not fit the arrays widens the side to lists of Python integers,
exact at any size; the exact ``Decimal`` (same digits and exponent as the wire text) is rebuilt
only when read.

Bisect finds a level in a few comparisons; inserts and deletes are memmoves, cheap even at depth
1000. A level's fragment is computed when the level first counts toward a checksum (the best few
of a side) and kept until the level changes, so verifying a checksum is one join and one hash,
never a re-formatting of the book, and the deep levels of a large book carry no text at all.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, MutableSequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Final

from schemas.events import BookLevel, BookSnapshot, BookUpdate
from sdk.contract import ChecksumScheme

_bisect_left: Final = bisect_left
"""Called for every level written: ``Final`` aliases, C statics once compiled
(see ``hatch_build.py``)."""

EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Shifting a number's exponent in this context never rounds, whatever its size."""


def exponent_of(number: Decimal) -> int:
    """The exponent of a finite ``number`` (-2 for 1.23); books hold no NaN or infinity."""
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"a book level needs a finite number, not {number}")
    return exponent


def mantissa_of(number: Decimal, exponent: int) -> int:
    """``number`` as an integer count of ``10**exponent`` (exact when its own exponent is at least that)."""
    return int(number.scaleb(-exponent, EXACT)) if exponent else int(number)


def decimal_of(mantissa: int, exponent: int) -> Decimal:
    """The ``Decimal`` ``mantissa * 10**exponent`` with exactly that exponent, as the wire wrote it."""
    return Decimal(mantissa).scaleb(exponent, EXACT)


def _compact_ints() -> MutableSequence[int]:
    return array("q")


def _compact_exponents() -> MutableSequence[int]:
    return array("b")


COMPACT_ABOVE_DEPTH: Final = 100
"""Books deeper than this store their levels compactly; shallower ones keep the events' Decimals."""


class BookSide:
    """One side of a book in ascending price order; ``bids`` reads it from the top end. What every
    layout does; ``DecimalSide`` and ``CompactSide`` store the levels."""

    def __init__(self, *, bids: bool) -> None:
        self.bids = bids
        self.fragments: list[bytes | None] = []
        """Each level's checksum fragment; None until a checksum reads the level."""

    def __len__(self) -> int:
        return len(self.fragments)

    def top_text(self, count: int, fragment: Callable[[Decimal, Decimal], str]) -> bytes:
        """The fragments of the best ``count`` levels, best first, concatenated; ``fragment`` makes
        those not made yet. Plain index loops: a compiled build runs them without a Python object."""
        fragments = self.fragments
        size = len(fragments)
        best: list[bytes] = []
        if self.bids:
            for index in range(size - 1, max(size - count, 0) - 1, -1):
                text = fragments[index]
                if text is None:
                    text = fragments[index] = fragment(self.price(index), self.qty(index)).encode()
                best.append(text)
        else:
            for index in range(min(count, size)):
                text = fragments[index]
                if text is None:
                    text = fragments[index] = fragment(self.price(index), self.qty(index)).encode()
                best.append(text)
        return b"".join(best)

    def best(self) -> Decimal | None:
        if not self.fragments:
            return None
        return self.price(-1 if self.bids else 0)

    def top(self, count: int) -> list[tuple[Decimal, Decimal]]:
        """The best ``count`` levels as (price, qty), best first."""
        size = len(self.fragments)
        indices = range(size - 1, max(size - count, 0) - 1, -1) if self.bids else range(min(count, size))
        return [(self.price(index), self.qty(index)) for index in indices]

    def clear(self) -> None:
        raise NotImplementedError

    def write(self, levels: tuple[BookLevel, ...]) -> None:
        """Write levels in order; a zero quantity deletes (a delete of an unknown price is a no-op)."""
        raise NotImplementedError

    def truncate(self, depth: int) -> None:
        """Keep the best ``depth`` levels."""
        raise NotImplementedError

    def price(self, index: int) -> Decimal:
        """The price of the level at ``index`` (ascending order), exactly as it arrived."""
        raise NotImplementedError

    def qty(self, index: int) -> Decimal:
        """The quantity of the level at ``index`` (ascending order), exactly as it arrived."""
        raise NotImplementedError


class DecimalSide(BookSide):
    """A side holding the events' own ``Decimal`` prices and quantities: fast, for shallow books."""

    def __init__(self, *, bids: bool) -> None:
        super().__init__(bids=bids)
        self.prices: list[Decimal] = []
        self.qtys: list[Decimal] = []

    def clear(self) -> None:
        self.prices.clear()
        self.qtys.clear()
        self.fragments.clear()

    def write(self, levels: tuple[BookLevel, ...]) -> None:
        prices, qtys, fragments = self.prices, self.qtys, self.fragments
        for level in levels:
            price, qty = level.price, level.qty
            index = _bisect_left(prices, price)
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
        excess = len(self.prices) - depth
        if excess > 0:
            if self.bids:
                del self.prices[:excess], self.qtys[:excess], self.fragments[:excess]
            else:
                del self.prices[depth:], self.qtys[depth:], self.fragments[depth:]

    def price(self, index: int) -> Decimal:
        return self.prices[index]

    def qty(self, index: int) -> Decimal:
        return self.qtys[index]


class CompactSide(BookSide):
    """A side holding its levels as integers, a tenth of the memory of Decimals: for deep books.

    A stored price is ``keys[i] * 10**scale``, written on the wire with exponent
    ``price_exponents[i]`` (never below ``scale``: a finer price rescales the side first); a
    stored quantity is ``qtys[i] * 10**qty_exponents[i]``.
    """

    def __init__(self, *, bids: bool) -> None:
        super().__init__(bids=bids)
        self.keys = _compact_ints()
        self.price_exponents = _compact_exponents()
        self.qtys = _compact_ints()
        self.qty_exponents = _compact_exponents()
        self.scale = 0
        self.scale_quantum = Decimal(1)
        """A number whose exponent is ``scale``: ``same_quantum`` tells a price on the scale in one call."""
        self.qty_exponent = 0
        self.qty_quantum = Decimal(1)
        """The exponent of the last quantity written, and a number with it: quantities mostly share one."""
        self.negative_zero = False
        """Whether the level at price zero (a side has at most one) arrived as -0."""

    def clear(self) -> None:
        self.keys, self.price_exponents = _compact_ints(), _compact_exponents()
        self.qtys, self.qty_exponents = _compact_ints(), _compact_exponents()
        self.fragments.clear()

    def write(self, levels: tuple[BookLevel, ...]) -> None:
        for level in levels:
            price, qty = level.price, level.qty
            exponent = self.scale if price.same_quantum(self.scale_quantum) else self._admit(price)
            key = mantissa_of(price, self.scale)
            keys = self.keys
            index = _bisect_left(keys, key)
            if index < len(keys) and keys[index] == key:
                if qty:
                    self._set_qty(index, qty)
                else:
                    del keys[index], self.price_exponents[index], self.qtys[index], self.qty_exponents[index]
                    del self.fragments[index]
            elif qty:
                if not key:
                    self.negative_zero = price.is_signed()
                self._insert(index, key, exponent, qty)

    def _admit(self, price: Decimal) -> int:
        """The exponent of a price off the side's scale; a finer one than the scale rescales the side."""
        exponent = exponent_of(price)
        if not self.keys:
            self.scale, self.scale_quantum = exponent, price
        elif exponent < self.scale:
            factor = 10 ** (self.scale - exponent)
            keys = [key * factor for key in self.keys]
            self.scale, self.scale_quantum = exponent, price
            try:
                self.keys = array("q", keys) if isinstance(self.keys, array) else keys
            except OverflowError:
                self._widen()
                self.keys = keys
        return exponent

    def _qty_parts(self, qty: Decimal) -> tuple[int, int]:
        if qty.same_quantum(self.qty_quantum):
            exponent = self.qty_exponent
        else:
            exponent = self.qty_exponent = exponent_of(qty)
            self.qty_quantum = qty
        return mantissa_of(qty, exponent), exponent

    def _set_qty(self, index: int, qty: Decimal) -> None:
        mantissa, exponent = self._qty_parts(qty)
        try:
            self.qtys[index], self.qty_exponents[index] = mantissa, exponent
        except OverflowError:
            self._widen()
            self.qtys[index], self.qty_exponents[index] = mantissa, exponent
        self.fragments[index] = None

    def _insert(self, index: int, key: int, exponent: int, qty: Decimal) -> None:
        mantissa, qty_exponent = self._qty_parts(qty)
        try:
            self.keys.insert(index, key)
            self.price_exponents.insert(index, exponent)
            self.qtys.insert(index, mantissa)
            self.qty_exponents.insert(index, qty_exponent)
        except OverflowError:
            for column in (self.keys, self.price_exponents, self.qtys, self.qty_exponents):
                # undo the columns that took the level before one refused it
                if len(column) > len(self.fragments):
                    del column[index]
            self._widen()
            self._insert(index, key, exponent, qty)
            return
        self.fragments.insert(index, None)

    def _widen(self) -> None:
        """Hold the side in lists of Python integers from now on (until cleared): a value outgrew the arrays."""
        self.keys, self.price_exponents = list(self.keys), list(self.price_exponents)
        self.qtys, self.qty_exponents = list(self.qtys), list(self.qty_exponents)

    def truncate(self, depth: int) -> None:
        excess = len(self.keys) - depth
        if excess > 0:
            if self.bids:
                del self.keys[:excess], self.price_exponents[:excess], self.qtys[:excess], self.qty_exponents[:excess]
                del self.fragments[:excess]
            else:
                del self.keys[depth:], self.price_exponents[depth:], self.qtys[depth:], self.qty_exponents[depth:]
                del self.fragments[depth:]

    def price(self, index: int) -> Decimal:
        key, exponent = self.keys[index], self.price_exponents[index]
        if exponent != self.scale:
            key //= 10 ** (exponent - self.scale)
        if not key and self.negative_zero:
            return Decimal((1, (0,), exponent))
        return decimal_of(key, exponent)

    def qty(self, index: int) -> Decimal:
        return decimal_of(self.qtys[index], self.qty_exponents[index])


class OrderBook:
    """One symbol's book at a subscribed depth, optionally checksummed with ``scheme``; its levels
    stored compactly when it is deeper than ``COMPACT_ABOVE_DEPTH`` (or as ``compact`` says).

    The checksum text of each side's top is kept until that side changes, so a message that
    touches one side re-joins only that side.
    """

    __slots__ = (
        "_asks_text",
        "_bids_text",
        "_fragment",
        "_levels",
        "asks",
        "bids",
        "depth",
        "scheme",
        "symbol",
        "updated_ns",
    )

    def __init__(self, symbol: str, depth: int, scheme: ChecksumScheme | None, *, compact: bool | None = None) -> None:
        self.symbol = symbol
        self.depth = depth
        self.scheme = scheme
        # read once: every check would otherwise look both up on the scheme (and bind the method)
        self._levels = 0 if scheme is None else scheme.levels
        self._fragment: Callable[[Decimal, Decimal], str] | None = None if scheme is None else scheme.fragment
        layout = CompactSide if (depth > COMPACT_ABOVE_DEPTH if compact is None else compact) else DecimalSide
        self.bids: BookSide = layout(bids=True)
        self.asks: BookSide = layout(bids=False)
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
            if len(bids) > depth:
                bids.truncate(depth)
            self._bids_text = None
        if update.asks:
            asks.write(update.asks)
            if len(asks) > depth:
                asks.truncate(depth)
            self._asks_text = None
        self.updated_ns = update.ts_exchange or update.ts_received

    def crossed(self) -> bool:
        """Whether the best bid is at or above the best ask (no honest book is)."""
        bids, asks = self.bids, self.asks
        if isinstance(bids, CompactSide) and isinstance(asks, CompactSide) and bids.scale == asks.scale:
            return bool(bids.keys) and bool(asks.keys) and bids.keys[-1] >= asks.keys[0]
        best_bid, best_ask = bids.best(), asks.best()
        return best_bid is not None and best_ask is not None and best_bid >= best_ask

    def checksum(self) -> int | None:
        """The exchange checksum of the current book, if the exchange defines one."""
        scheme, fragment = self.scheme, self._fragment
        if scheme is None or fragment is None:
            return None
        asks_text = self._asks_text
        if asks_text is None:
            asks_text = self._asks_text = self.asks.top_text(self._levels, fragment)
        bids_text = self._bids_text
        if bids_text is None:
            bids_text = self._bids_text = self.bids.top_text(self._levels, fragment)
        return scheme.checksum(asks_text, bids_text)
