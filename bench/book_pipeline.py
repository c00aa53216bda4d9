"""Kraken v1 decode + maintained book + checksum verification, against cryptofeed and a ceiling.

    pip install -e '.[bench]'    # cryptofeed, for the comparison
    python -m bench.book_pipeline

Part 1 replays one corpus of Kraken v1 frames (book-10 updates with correct checksums, trades,
tickers) through (a) the xfeeds feed's own decode path (codec, book keeper, checksum verified on
every update), (b) cryptofeed's Kraken message handler with ``checksum_validation=True``, and
(c) plain ``msgspec.json.decode`` as the ceiling. Part 2 measures the book engine alone: level
updates per second with the checksum computed after each, at depth 10 and 1000.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sdk
from adapters.kraken_common.checksum import KrakenChecksum
from bench.corpus import kraken_v1_frames
from bench.peers import cryptofeed_kraken
from bench.timing import against_peer, compare, pin_to_one_core, report
from schemas import BookLevel, BookSnapshot, BookUpdate
from sdk import registry
from sdk.book import OrderBook
from sdk.session import FeedSession
from sdk.wiretext import forget_wire_decimals

FRAMES = 120_000


def main() -> None:
    pin_to_one_core()
    frames = kraken_v1_frames(FRAMES)
    kinds = {"book": sum('"book-10"' in f for f in frames), "trade": sum('"trade"' in f for f in frames)}
    print(
        f"corpus: {len(frames):,} frames ({kinds['book']:,} book, {kinds['trade']:,} trade, "
        f"{len(frames) - kinds['book'] - kinds['trade']:,} ticker)"
    )
    against_peer(
        "v1 decode + book + checksum verified, one frame at a time (target: xfeeds >= 1.5x cryptofeed)",
        frames,
        _xfeeds(frames),
        "cryptofeed",
        _cryptofeed(frames),
    )
    for depth in (10, 1000):
        results = compare(_engines(depth), baseline="plain dict, sort per check")
        report(f"book engine alone, depth {depth}, checksum after every level update", results, "updates", "dict")


def _xfeeds(frames: list[str]) -> Callable[[], int]:
    """The feed's real per-read path (the session: decode, book apply and verify), minus the socket."""
    encoded = [frame.encode() for frame in frames]
    session = FeedSession(registry.get("kraken-v1"))
    session.subscribe([sdk.book("BTC/USD"), sdk.trades("BTC/USD"), sdk.ticker("BTC/USD")])

    def run() -> int:
        forget_wire_decimals()  # every pass starts cold: no help from texts seen in earlier rounds
        receive = session.receive
        for frame in encoded:
            receive([frame], 0.0, 0)
        assert session.book_stats.failures == 0
        return len(encoded)

    return run


def _cryptofeed(frames: list[str]) -> Callable[[], int] | None:
    async def ignore(*_: Any) -> None:
        return None

    feed = cryptofeed_kraken(ignore)
    if feed is None:
        return None
    loop = asyncio.new_event_loop()

    async def replay() -> int:
        handler = feed.message_handler
        for frame in frames:
            await handler(frame, None, 0.0)
        return len(frames)

    def run() -> int:
        feed._l2_book.clear()
        return loop.run_until_complete(replay())

    return run


def _level_updates(
    depth: int, count: int, seed: int = 7
) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """A full book of ``depth`` bids, then level updates skewed to the touch: 60% quantity
    changes, 20% deletions (each followed by a refill behind the worst level, as Kraken's
    republish does), 20% inserts between existing levels."""
    rng = random.Random(seed)
    tick = Decimal("0.10")

    def qty() -> Decimal:
        return Decimal(rng.randint(1, 10**8)).scaleb(-8)

    book = {Decimal(100_000 - 2 * i).scaleb(-1) * 1: qty() for i in range(depth)}
    start = sorted(book.items(), reverse=True)
    updates: list[tuple[Decimal, Decimal]] = []
    while len(updates) < count:
        prices = sorted(book, reverse=True)
        price = prices[min(int(rng.expovariate(5 / len(prices))), len(prices) - 1)]
        roll = rng.random()
        if roll < 0.6:
            changes = [(price, qty())]
        elif roll < 0.8:
            changes = [(price, Decimal("0E-8")), (prices[-1] - tick, qty())]
        else:
            changes = [(price - tick / 2, qty())]
        for changed, amount in changes:
            if amount:
                book[changed] = amount
            else:
                del book[changed]
        for excess in sorted(book, reverse=True)[depth:]:
            del book[excess]
        updates.extend(changes)
    return start, updates


def _engines(depth: int) -> dict[str, Callable[[], int]]:
    start, updates = _level_updates(depth, 100_000 if depth == 10 else 50_000)
    asks = tuple(BookLevel(p + 1000, q) for p, q in start[:10])
    snapshot = BookSnapshot(
        exchange="b",
        symbol="B/B",
        depth=depth,
        bids=tuple(BookLevel(p, q) for p, q in start),
        asks=asks,
        ts_received=0,
    )
    events = [
        BookUpdate(exchange="b", symbol="B/B", depth=depth, bids=(BookLevel(p, q),), asks=(), ts_received=0)
        for p, q in updates
    ]
    scheme = KrakenChecksum()

    def engine() -> int:
        book = OrderBook("B/B", depth, scheme)
        book.apply_snapshot(snapshot)
        for update in events:
            book.apply_update(update)
            book.checksum()
        return len(events)

    def plain() -> int:
        bids = {level.price: level.qty for level in snapshot.bids}
        ask_text = [(f"{level.price:f}", f"{level.qty:f}") for level in asks]
        from adapters.kraken_common.checksum import checksum_of_text

        for update in events:
            for level in update.bids:
                if level.qty:
                    bids[level.price] = level.qty
                else:
                    bids.pop(level.price, None)
            top = sorted(bids, reverse=True)
            for price in top[depth:]:
                del bids[price]
            checksum_of_text(ask_text, [(f"{p:f}", f"{bids[p]:f}") for p in top[:10]])
        return len(events)

    variants = {"plain dict, sort per check": plain, "xfeeds OrderBook": engine}
    try:
        from order_book import OrderBook as CBook
    except ImportError:
        return variants

    def c_book() -> int:
        book = CBook(max_depth=depth, checksum_format="KRAKEN")
        for level in snapshot.bids:
            book.bids[level.price] = level.qty
        for level in asks:
            book.asks[level.price] = level.qty
        for update in events:
            for level in update.bids:
                if level.qty:
                    book.bids[level.price] = level.qty
                elif level.price in book.bids:
                    del book.bids[level.price]
            book.checksum()
        return len(events)

    variants["cryptofeed's order_book (C)"] = c_book
    return variants


if __name__ == "__main__":
    main()
