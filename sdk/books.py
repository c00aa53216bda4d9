"""The feed's maintained books: apply, verify, invalidate, and recognise a resync.

Sans-I/O like the codecs: it consumes book events and answers with the integrity events to emit;
the feed does the resubscribing. A book that fails its checksum (or crosses) is marked invalid
once, stops being applied, and becomes valid again only from a fresh snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar

from schemas.events import BookInvalidated, BookResynced, BookSnapshot, BookUpdate, Event
from sdk.book import OrderBook
from sdk.contract import ChecksumScheme
from sdk.subscriptions import EVERY_SYMBOL

T = TypeVar("T")


@dataclass
class BookStats:
    """Integrity counters across every book of a feed."""

    checks: int = 0
    failures: int = 0
    resyncs: int = 0


@dataclass(frozen=True)
class BookTop:
    """A copy of the top of one book at one moment, safe to hand to another thread."""

    symbol: str
    valid: bool
    updated_ns: int | None
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]

    @property
    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        return self.asks[0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        return (self.bids[0][0] + self.asks[0][0]) / 2 if self.bids and self.asks else None

    @property
    def spread(self) -> Decimal | None:
        return self.asks[0][0] - self.bids[0][0] if self.bids and self.asks else None


class ReadOnLoop(Protocol):
    """Runs a read where the book is written (the sync face: on the feed's event loop thread)."""

    def __call__(self, read: Callable[[], T]) -> T: ...


def read_here(read: Callable[[], T]) -> T:
    return read()


class BookView:
    """A read-only view of one maintained book, the same type on both faces.

    It is live: each read reflects the book at that moment. Before the first snapshot (and after
    an invalidation) the book reads as empty and ``valid`` is False, so a view can be taken as soon
    as the book is subscribed. On the sync face every read runs on the feed's own thread, so it
    is consistent; ``top()`` copies several levels at once.
    """

    def __init__(self, keeper: BookKeeper, symbol: str, run: ReadOnLoop = read_here) -> None:
        self._keeper = keeper
        self._symbol = symbol
        self._run = run

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def valid(self) -> bool:
        """False until a snapshot arrived, and from a failed check until the resync's snapshot."""
        return self._run(lambda: self._keeper.is_valid(self._symbol))

    @property
    def updated_ns(self) -> int | None:
        """Exchange time (else receive time) of the last snapshot or update applied."""
        return self._run(lambda: self._sides().updated_ns)

    @property
    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        top = self.bids(1)
        return top[0] if top else None

    @property
    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        top = self.asks(1)
        return top[0] if top else None

    @property
    def mid(self) -> Decimal | None:
        return self.top(1).mid

    @property
    def spread(self) -> Decimal | None:
        return self.top(1).spread

    def bids(self, count: int = 10) -> list[tuple[Decimal, Decimal]]:
        """The best ``count`` bids as (price, qty), highest first."""
        return self._run(lambda: self._sides().bids.top(count))

    def asks(self, count: int = 10) -> list[tuple[Decimal, Decimal]]:
        """The best ``count`` asks as (price, qty), lowest first."""
        return self._run(lambda: self._sides().asks.top(count))

    def top(self, count: int = 10) -> BookTop:
        """A frozen copy of the best ``count`` levels a side, with validity and time, taken at once."""
        return self._run(lambda: self._keeper.top(self._symbol, count))

    def _sides(self) -> OrderBook:
        return self._keeper.book(self._symbol)


@dataclass
class _BookState:
    verify: bool
    valid: bool = False
    invalidated: bool = False
    unverifiable: bool = False


class BookKeeper:
    """Every book a feed maintains, keyed by symbol."""

    def __init__(self, exchange: str, *, tolerate_crossed: bool = False) -> None:
        self.exchange = exchange
        self.tolerate_crossed = tolerate_crossed
        """The venue documents brief crossed books: a crossed book is then not an integrity failure."""
        self.stats = BookStats()
        self._books: dict[str, tuple[OrderBook, _BookState]] = {}
        self._verify: dict[str, bool] = {}

    def track(self, symbol: str, *, verify: bool) -> None:
        """Maintain ``symbol``'s book from its next snapshot; ``verify`` checks every checksum."""
        self._verify[symbol] = verify

    def forget(self, symbol: str) -> None:
        self._verify.pop(symbol, None)
        self._books.pop(symbol, None)

    def suspend(self) -> None:
        """The connection is gone: no book is valid until its next snapshot."""
        for _, state in self._books.values():
            state.valid = False

    def view(self, symbol: str, run: ReadOnLoop = read_here) -> BookView:
        """The maintained book of ``symbol``; KeyError unless a book subscription covers it."""
        if symbol not in self._books and symbol not in self._verify and EVERY_SYMBOL not in self._verify:
            raise KeyError(f"no book subscribed for {symbol!r}")
        return BookView(self, symbol, run)

    def is_valid(self, symbol: str) -> bool:
        entry = self._books.get(symbol)
        return entry is not None and entry[1].valid

    def book(self, symbol: str) -> OrderBook:
        """The book of ``symbol`` as maintained, empty before its first snapshot."""
        entry = self._books.get(symbol)
        return entry[0] if entry is not None else OrderBook(symbol, 0, None)

    def top(self, symbol: str, count: int) -> BookTop:
        book = self.book(symbol)
        return BookTop(symbol, self.is_valid(symbol), book.updated_ns, book.bids.top(count), book.asks.top(count))

    def on_snapshot(self, snapshot: BookSnapshot, scheme: ChecksumScheme | None) -> Event | None:
        """Replace the book; returns ``BookResynced`` when this ends an invalidation."""
        verify = self._verify.get(snapshot.symbol, self._verify.get(EVERY_SYMBOL))
        if verify is None:
            return None
        entry = self._books.get(snapshot.symbol)
        if entry is None or entry[0].depth != snapshot.depth or entry[0].scheme is not scheme:
            state = _BookState(verify, invalidated=entry is not None and entry[1].invalidated)
            entry = (OrderBook(snapshot.symbol, snapshot.depth, scheme if verify else None), state)
            self._books[snapshot.symbol] = entry
        book, state = entry
        book.apply_snapshot(snapshot)
        resynced = state.invalidated
        state.valid, state.invalidated = True, False
        if snapshot.checksum is not None and book.scheme is None and verify:
            # the exchange checksums this book but we cannot (yet): say so once rather than trust it
            state.valid = False
            if state.unverifiable:
                return None
            state.unverifiable = True
            return self._invalidate(book, state, snapshot.ts_received, "unverifiable")
        state.unverifiable = False
        problem = self._check(book, state, snapshot.checksum, snapshot.ts_received)
        if problem is not None:
            return problem
        if resynced:
            self.stats.resyncs += 1
            return BookResynced(exchange=self.exchange, symbol=snapshot.symbol, ts_received=snapshot.ts_received)
        return None

    def invalidate(self, symbol: str, now: int) -> BookInvalidated | None:
        """Invalidate a book whose events the consumer lost (None if it is not maintained or
        already invalid): a fresh snapshot must rebuild it, for the feed and for the consumer."""
        entry = self._books.get(symbol)
        if entry is None or not entry[1].valid:
            return None
        return self._invalidate(entry[0], entry[1], now, "dropped")

    def on_update(self, update: BookUpdate) -> BookInvalidated | None:
        """Apply an update to a valid book; returns ``BookInvalidated`` when it fails a check."""
        entry = self._books.get(update.symbol)
        if entry is None:
            return None
        book, state = entry
        if not state.valid:
            return None
        book.apply_update(update)
        return self._check(book, state, update.checksum, update.ts_received) if state.verify else None

    def _check(self, book: OrderBook, state: _BookState, expected: int | None, now: int) -> BookInvalidated | None:
        if not state.verify:
            return None
        scheme = book.scheme
        if expected is not None and scheme is not None:
            self.stats.checks += 1
            computed = book.checksum()
            if computed != expected:
                return self._invalidate(book, state, now, "checksum", expected=expected, computed=computed)
        bids, asks = book.bids.prices, book.asks.prices
        if bids and asks and bids[-1] >= asks[0] and not self.tolerate_crossed:  # crossed: no honest book is
            return self._invalidate(book, state, now, "crossed")
        return None

    def _invalidate(
        self,
        book: OrderBook,
        state: _BookState,
        now: int,
        reason: str,
        *,
        expected: int | None = None,
        computed: int | None = None,
    ) -> BookInvalidated:
        self.stats.failures += 1
        state.valid, state.invalidated = False, True
        return BookInvalidated(
            exchange=self.exchange,
            symbol=book.symbol,
            reason=reason,  # type: ignore[arg-type]
            expected=expected,
            computed=computed,
            ts_received=now,
        )
