"""Memory of maintained books: depth 1000 for 100 symbols, built through a feed's session.

    python -m bench.book_memory

Kraken v1 frames go through ``FeedSession.receive``, the path every frame of a feed takes: a
book-1000 snapshot per symbol (1000 levels a side, each price and quantity a distinct text), then
updates with correct checksums, verified. It reports the process's resident memory after the
imports, after the snapshots and after the updates, and its peak, whole process included
(target: under 40 MB).
"""

from __future__ import annotations

import gc
import random
import resource
import sys
from decimal import Decimal

import sdk
from adapters.kraken_common.checksum import checksum_of_text
from sdk import registry
from sdk.session import FeedSession

SYMBOLS = 100
DEPTH = 1000
UPDATES_PER_SYMBOL = 200
TARGET_MB = 40


def resident_mb() -> float:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return peak_mb()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)


class Side:
    """One side of the venue's book as texts, to render frames and their checksums."""

    def __init__(self, levels: dict[Decimal, str], descending: bool) -> None:
        self.levels = levels
        self.descending = descending

    def top(self) -> list[tuple[str, str]]:
        prices = sorted(self.levels, reverse=self.descending)[:10]
        return [(f"{price:.5f}", self.levels[price]) for price in prices]


def _qty(rng: random.Random) -> str:
    return f"{rng.randint(1, 10**9) / 10**8:.8f}"


def _frames(symbol: str, rng: random.Random) -> tuple[str, list[str]]:
    """A book-1000 snapshot of ``symbol`` and updates to it, each with the checksum of the result."""
    mid = Decimal(rng.randint(100, 60_000))
    tick = Decimal("0.00100")
    bids = Side({mid - tick * (i + 1): _qty(rng) for i in range(DEPTH)}, descending=True)
    asks = Side({mid + tick * (i + 1): _qty(rng) for i in range(DEPTH)}, descending=False)

    def rows(side: Side) -> str:
        return ",".join(f'["{price:.5f}","{qty}","1700000000.000000"]' for price, qty in side.levels.items())

    snapshot = f'[1,{{"as":[{rows(asks)}],"bs":[{rows(bids)}]}},"book-{DEPTH}","{symbol}"]'
    updates = []
    for _ in range(UPDATES_PER_SYMBOL):
        side, key = (bids, "b") if rng.random() < 0.5 else (asks, "a")
        price = sorted(side.levels, reverse=side.descending)[int(rng.expovariate(0.2)) % 50]
        side.levels[price] = _qty(rng)
        checksum = checksum_of_text(asks.top(), bids.top())
        level = f'["{price:.5f}","{side.levels[price]}","1700000000.000001"]'
        updates.append(f'[1,{{"{key}":[{level}],"c":"{checksum}"}},"book-{DEPTH}","{symbol}"]')
    return snapshot, updates


def main() -> None:
    symbols = [f"S{number:03d}/USD" for number in range(SYMBOLS)]
    session = FeedSession(registry.get("kraken-v1"))
    session.subscribe([sdk.book(symbol, depth=DEPTH) for symbol in symbols])
    gc.collect()
    print(f"after imports and subscribing: {resident_mb():6.1f} MB resident")
    rng = random.Random(7)
    for symbol in symbols:  # one symbol's frames at a time: what the venue sends is not the client's memory
        snapshot, updates = _frames(symbol, rng)
        session.receive([snapshot.encode()], 0.0, 0)
        for update in updates:
            session.receive([update.encode()], 0.0, 0)
        del snapshot, updates
    gc.collect()
    stats = session.book_stats
    if stats.failures or stats.checks != SYMBOLS * UPDATES_PER_SYMBOL:
        raise RuntimeError(f"the books were not all verified: {stats}")
    book = session.orderbook(symbols[0], DEPTH)
    if not book.valid or len(book.bids(DEPTH)) != DEPTH:
        raise RuntimeError(f"{symbols[0]}: not a valid book of depth {DEPTH}")
    peak = peak_mb()
    print(f"{SYMBOLS} books of depth {DEPTH}, {stats.checks:,} updates verified: {resident_mb():6.1f} MB resident")
    print(f"peak resident memory of the whole process: {peak:.1f} MB (target: under {TARGET_MB} MB)")


if __name__ == "__main__":
    main()
