"""A deterministic synthetic market that simulators render into each exchange's wire protocol.

Each instrument has an order book that stays uncrossed, trades that consume its best levels,
and running statistics (24-hour figures, candles) derived from those same trades, so every channel
a simulator serves tells one consistent story.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Instrument:
    """A tradable pair: shared symbol, starting price, and price/quantity increments."""

    symbol: str
    price: Decimal
    tick: Decimal
    lot: Decimal


@dataclass(frozen=True)
class SimTrade:
    price: Decimal
    qty: Decimal
    side: Side
    order_type: Literal["market", "limit"]
    time_ns: int
    trade_id: int


@dataclass(frozen=True)
class MarketStep:
    """What changed for one instrument in one step."""

    symbol: str
    time_ns: int
    trades: tuple[SimTrade, ...]
    book_changed: bool


class BookSide:
    """One side of the simulated book: prices kept sorted best first, quantities by price."""

    def __init__(self, bids: bool) -> None:
        self._bids = bids
        self._keys: list[Decimal] = []  # ascending sort keys: -price for bids, price for asks
        self.qty: dict[Decimal, Decimal] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def top(self, count: int) -> list[tuple[Decimal, Decimal]]:
        """The ``count`` best levels as (price, qty)."""
        return [(self._price(key), self.qty[self._price(key)]) for key in self._keys[:count]]

    def best(self) -> Decimal | None:
        return self._price(self._keys[0]) if self._keys else None

    def worst(self) -> Decimal | None:
        return self._price(self._keys[-1]) if self._keys else None

    def set(self, price: Decimal, qty: Decimal) -> None:
        if price not in self.qty:
            bisect.insort(self._keys, -price if self._bids else price)
        self.qty[price] = qty

    def remove(self, price: Decimal) -> None:
        del self.qty[price]
        key = -price if self._bids else price
        del self._keys[bisect.bisect_left(self._keys, key)]

    def _price(self, key: Decimal) -> Decimal:
        return -key if self._bids else key


@dataclass
class CandleState:
    start_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    count: int = 0


@dataclass
class InstrumentState:
    """One instrument's book and the statistics derived from its trades."""

    instrument: Instrument
    bids: BookSide = field(default_factory=lambda: BookSide(bids=True))
    asks: BookSide = field(default_factory=lambda: BookSide(bids=False))
    last_price: Decimal = Decimal(0)
    last_qty: Decimal = Decimal(0)
    open_24h: Decimal = Decimal(0)
    high_24h: Decimal = Decimal(0)
    low_24h: Decimal = Decimal(0)
    volume_24h: Decimal = Decimal(0)
    notional_24h: Decimal = Decimal(0)
    trades_24h: int = 0
    candles: dict[int, CandleState] = field(default_factory=dict)
    recent: deque[SimTrade] = field(default_factory=lambda: deque(maxlen=50))
    """The latest trades, for exchanges that send a trade snapshot on subscribe."""

    @property
    def vwap_24h(self) -> Decimal:
        return self.notional_24h / self.volume_24h if self.volume_24h else self.last_price

    def candle(self, interval_ns: int, now_ns: int) -> CandleState:
        """The running candle of ``interval_ns`` containing ``now_ns`` (started on demand)."""
        start = now_ns - now_ns % interval_ns
        candle = self.candles.get(interval_ns)
        if candle is None or candle.start_ns != start:
            price = self.last_price
            candle = CandleState(start_ns=start, open=price, high=price, low=price, close=price)
            self.candles[interval_ns] = candle
        return candle

    def record(self, trade: SimTrade) -> None:
        self.recent.append(trade)
        self.last_price, self.last_qty = trade.price, trade.qty
        self.high_24h = max(self.high_24h, trade.price)
        self.low_24h = min(self.low_24h, trade.price)
        self.volume_24h += trade.qty
        self.notional_24h += trade.qty * trade.price
        self.trades_24h += 1
        for interval_ns in list(self.candles):
            candle = self.candle(interval_ns, trade.time_ns)
            candle.high = max(candle.high, trade.price)
            candle.low = min(candle.low, trade.price)
            candle.close = trade.price
            candle.volume += trade.qty
            candle.notional += trade.qty * trade.price
            candle.count += 1


class SyntheticMarket:
    """Random-walk order books and trades for a set of instruments, reproducible from a seed."""

    def __init__(self, instruments: list[Instrument], *, seed: int = 1, levels: int = 60) -> None:
        self._rng = random.Random(seed)
        self._levels = levels
        self.states = {instrument.symbol: self._open(instrument) for instrument in instruments}

    def state(self, symbol: str) -> InstrumentState:
        return self.states[symbol]

    def step(self, now_ns: int) -> list[MarketStep]:
        """Advance every instrument by one random action."""
        return [self._step(state, now_ns) for state in self.states.values()]

    def _open(self, instrument: Instrument) -> InstrumentState:
        state = InstrumentState(instrument=instrument)
        tick = instrument.tick
        for index in range(1, self._levels + 1):
            state.bids.set(instrument.price - index * tick, self._qty(instrument))
            state.asks.set(instrument.price + index * tick, self._qty(instrument))
        price = instrument.price
        state.last_price = state.open_24h = state.high_24h = state.low_24h = price
        state.last_qty = instrument.lot
        return state

    def _qty(self, instrument: Instrument) -> Decimal:
        return instrument.lot * self._rng.randint(1, 5_000)

    def _step(self, state: InstrumentState, now_ns: int) -> MarketStep:
        roll = self._rng.random()
        if roll < 0.3:
            return MarketStep(state.instrument.symbol, now_ns, self._trade(state, now_ns), True)
        if roll < 0.4:  # a market maker re-quoting both sides at once
            self._place(state, bids=True)
            self._place(state, bids=False)
        elif roll < 0.7:
            self._place(state, bids=self._rng.random() < 0.5)
        elif roll < 0.85:
            self._cancel(state)
        else:
            self._amend(state)
        return MarketStep(state.instrument.symbol, now_ns, (), True)

    def _trade(self, state: InstrumentState, now_ns: int) -> tuple[SimTrade, ...]:
        """A taker order sweeping one or more levels of the opposite side."""
        side: Side = self._rng.choice(("buy", "sell"))
        book = state.asks if side == "buy" else state.bids
        remaining = state.instrument.lot * self._rng.randint(1, 3_000)
        order_type: Literal["market", "limit"] = self._rng.choice(("market", "limit"))
        fills: list[SimTrade] = []
        while remaining > 0 and len(book) > 1:
            price = book.best()
            assert price is not None
            available = book.qty[price]
            fill = min(available, remaining)
            fills.append(SimTrade(price, fill, side, order_type, now_ns, state.trades_24h + len(fills) + 1))
            remaining -= fill
            if fill == available:
                book.remove(price)
                self._refill(state, book)
            else:
                book.set(price, available - fill)
        for trade in fills:
            state.record(trade)
        return tuple(fills)

    def _place(self, state: InstrumentState, *, bids: bool) -> None:
        """A new order near the touch, possibly inside the spread, never crossing."""
        book, other = (state.bids, state.asks) if bids else (state.asks, state.bids)
        best, opposite = book.best(), other.best()
        assert best is not None
        assert opposite is not None
        offset = int(self._rng.expovariate(0.25)) - 1
        tick = state.instrument.tick
        price = best - offset * tick if bids else best + offset * tick
        if (bids and price >= opposite) or (not bids and price <= opposite):
            return
        book.set(price, book.qty.get(price, Decimal(0)) + self._qty(state.instrument))
        while len(book) > self._levels:
            worst = book.worst()
            assert worst is not None
            book.remove(worst)

    def _cancel(self, state: InstrumentState) -> None:
        book = state.bids if self._rng.random() < 0.5 else state.asks
        if len(book) < 3:
            return
        price, _ = self._rng.choice(book.top(15))
        book.remove(price)
        self._refill(state, book)

    def _amend(self, state: InstrumentState) -> None:
        book = state.bids if self._rng.random() < 0.5 else state.asks
        price, _ = self._rng.choice(book.top(15))
        book.set(price, self._qty(state.instrument))

    def _refill(self, state: InstrumentState, book: BookSide) -> None:
        """Keep the book deep: a new level behind the worst one."""
        worst = book.worst()
        if worst is None:
            return
        tick = state.instrument.tick
        book.set(worst - tick if book is state.bids else worst + tick, self._qty(state.instrument))
