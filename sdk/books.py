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

    def __init__(self, keeper: BookKeeper, symbol: str, depth: int, run: ReadOnLoop = read_here) -> None:
        self._keeper = keeper
        self._key = (symbol, depth)
        self._run = run

    @property
    def symbol(self) -> str:
        return self._key[0]

    @property
    def depth(self) -> int:
        """The subscribed depth this book is maintained to."""
        return self._key[1]

    @property
    def valid(self) -> bool:
        """False until a snapshot arrived, and from a failed check until the resync's snapshot."""
        return self._run(lambda: self._keeper.is_valid(self._key))

    @property
    def updated_ns(self) -> int | None:
        """Exchange time (else receive time) of the last snapshot or update applied."""
        return self._run(lambda: self._keeper.book(self._key).updated_ns)

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
        return self._run(lambda: self._keeper.book(self._key).bids.top(count))

    def asks(self, count: int = 10) -> list[tuple[Decimal, Decimal]]:
        """The best ``count`` asks as (price, qty), lowest first."""
        return self._run(lambda: self._keeper.book(self._key).asks.top(count))

    def top(self, count: int = 10) -> BookTop:
        """A frozen copy of the best ``count`` levels a side, with validity and time, taken at once."""
        return self._run(lambda: self._keeper.top(self._key, count))


@dataclass
class _BookState:
    verify: bool
    valid: bool = False
    invalidated: bool = False
    unverifiable: bool = False


BookKey = tuple[str, int]
"""A maintained book: (symbol, subscribed depth). A symbol may be subscribed at several depths."""


class BookKeeper:
    """Every book a feed maintains, keyed by symbol and depth, as subscriptions are."""

    def __init__(self, exchange: str, *, tolerate_crossed: bool = False) -> None:
        self.exchange = exchange
        self.tolerate_crossed = tolerate_crossed
        """The venue documents brief crossed books: a crossed book is then not an integrity failure."""
        self.stats = BookStats()
        self._books: dict[BookKey, tuple[OrderBook, _BookState]] = {}
        self._verify: dict[BookKey, bool] = {}

    def track(self, symbol: str, depth: int, *, verify: bool) -> None:
        """Maintain the book from its next snapshot; ``verify`` checks every checksum."""
        self._verify[(symbol, depth)] = verify

    def forget(self, symbol: str, depth: int) -> None:
        self._verify.pop((symbol, depth), None)
        if symbol == EVERY_SYMBOL:
            for key in [key for key in self._books if key[1] == depth and (key[0], depth) not in self._verify]:
                del self._books[key]
        else:
            self._books.pop((symbol, depth), None)

    def suspend(self) -> None:
        """The connection is gone: no book is valid until its next snapshot."""
        for _, state in self._books.values():
            state.valid = False

    def view(self, symbol: str, depth: int | None = None, run: ReadOnLoop = read_here) -> BookView:
        """The maintained book of ``symbol`` (at ``depth``, needed when several are subscribed).

        KeyError unless a book subscription covers it; ValueError naming the depths when ``depth``
        is left out and the symbol is maintained at more than one.
        """
        depths = sorted(
            {d for s, d in self._verify if s in (symbol, EVERY_SYMBOL)} | {d for s, d in self._books if s == symbol}
        )
        if depth is None:
            if len(depths) > 1:
                raise ValueError(f"{symbol} is maintained at depths {depths}: pass depth=")
            depth = depths[0] if depths else None
        if depth is None or depth not in depths:
            raise KeyError(f"no book subscribed for {symbol!r}" + (f" at depth {depth}" if depth else ""))
        return BookView(self, symbol, depth, run)

    def is_valid(self, key: BookKey) -> bool:
        entry = self._books.get(key)
        return entry is not None and entry[1].valid

    def book(self, key: BookKey) -> OrderBook:
        """The book as maintained, empty before its first snapshot."""
        entry = self._books.get(key)
        return entry[0] if entry is not None else OrderBook(key[0], key[1], None)

    def top(self, key: BookKey, count: int) -> BookTop:
        book = self.book(key)
        return BookTop(key[0], self.is_valid(key), book.updated_ns, book.bids.top(count), book.asks.top(count))

    def on_snapshot(self, snapshot: BookSnapshot, scheme: ChecksumScheme | None) -> Event | None:
        """Replace the book; returns ``BookResynced`` when this ends an invalidation."""
        key = (snapshot.symbol, snapshot.depth)
        verify = self._verify.get(key)
        if verify is None:
            verify = self._verify.get((EVERY_SYMBOL, snapshot.depth))
            if verify is None:
                return None
        entry = self._books.get(key)
        if entry is None or entry[0].scheme is not scheme:
            state = _BookState(verify, invalidated=entry is not None and entry[1].invalidated)
            entry = (OrderBook(snapshot.symbol, snapshot.depth, scheme if verify else None), state)
            self._books[key] = entry
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
            return BookResynced(
                exchange=self.exchange, symbol=snapshot.symbol, depth=snapshot.depth, ts_received=snapshot.ts_received
            )
        return None

    def invalidate(self, key: BookKey, now: int, reason: str) -> BookInvalidated | None:
        """Invalidate a book the feed can no longer vouch for (its consumer lost events, its stream
        stopped); None if it is not maintained or already invalid. A fresh snapshot rebuilds it."""
        entry = self._books.get(key)
        if entry is None or not entry[1].valid:
            return None
        return self._invalidate(entry[0], entry[1], now, reason)

    def lost(self, invalidated: BookInvalidated) -> None:
        """The codec lost track of the exchange's book (it refused a malformed message whole): the
        book is invalid until the resync's snapshot."""
        entry = self._books.get((invalidated.symbol, invalidated.depth or 0))
        if entry is not None and entry[1].valid:
            self.stats.failures += 1
            entry[1].valid, entry[1].invalidated = False, True

    def on_update(self, update: BookUpdate) -> BookInvalidated | None:
        """Apply an update to a valid book; returns ``BookInvalidated`` when it fails a check."""
        entry = self._books.get((update.symbol, update.depth))
        if entry is None:
            return None
        book, state = entry
        if not state.valid:
            return None
        book.apply_update(update)
        if not state.verify:
            return None
        if update.checksum is None and book.scheme is not None:  # the venue checksums every update: not this one
            return self._invalidate(book, state, update.ts_received, "unverifiable")
        return self._check(book, state, update.checksum, update.ts_received)

    def _check(self, book: OrderBook, state: _BookState, expected: int | None, now: int) -> BookInvalidated | None:
        if not state.verify:
            return None
        scheme = book.scheme
        if expected is not None and scheme is not None:
            self.stats.checks += 1
            computed = book.checksum()
            if computed != expected:
                return self._invalidate(book, state, now, "checksum", expected=expected, computed=computed)
        if not self.tolerate_crossed and book.crossed():
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
            depth=book.depth,
            reason=reason,  # type: ignore[arg-type]
            expected=expected,
            computed=computed,
            ts_received=now,
        )
