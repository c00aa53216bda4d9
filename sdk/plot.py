"""A chart of one symbol from its events (``xfeeds plot``): mid price with the trades on it, the
spread, and the book's depth as a heatmap over time, drawn with matplotlib (the ``plot`` extra).

``ChartData`` follows the book through its snapshots and updates exactly as the events say
(Decimal throughout); numbers become floats only when drawn. It takes events one by one, so a
long recording is charted without holding its events in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from schemas.events import BookInvalidated, BookSnapshot, BookUpdate, Disconnected, Event, Trade
from sdk.book import OrderBook
from sdk.subscriptions import normalize_symbol

HEATMAP_COLUMNS = 240
HEATMAP_ROWS = 120


@dataclass(frozen=True)
class BookSample:
    """The book after one snapshot or update: receive time (ns), best prices, every level's size."""

    ts: int
    mid: Decimal
    spread: Decimal
    levels: tuple[tuple[Decimal, Decimal], ...]


@dataclass
class ChartData:
    """What the chart shows of ``symbol``, gathered by ``add``."""

    symbol: str
    samples: list[BookSample] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    _book: OrderBook | None = None

    def add(self, event: Event) -> None:
        """Take one event; other symbols' are ignored, and a book is followed only from its snapshot."""
        match event:
            case Trade() if event.symbol == self.symbol:
                self.trades.append(event)
            case BookSnapshot() if event.symbol == self.symbol:
                self._book = OrderBook(self.symbol, event.depth, None)
                self._book.apply_snapshot(event)
                self._sample(event.ts_received)
            case BookUpdate() if event.symbol == self.symbol and self._book is not None:
                self._book.apply_update(event)
                self._sample(event.ts_received)
            case BookInvalidated() if event.symbol == self.symbol:
                self._book = None  # not charted again until the resync's snapshot
            case Disconnected():
                self._book = None
            case _:
                pass

    def _sample(self, ts: int) -> None:
        book = self._book
        assert book is not None
        bid, ask = book.bids.best(), book.asks.best()
        if bid is None or ask is None:
            return
        levels = tuple(reversed(book.bids.top(len(book.bids)))) + tuple(book.asks.top(len(book.asks)))
        self.samples.append(BookSample(ts, (bid + ask) / 2, ask - bid, levels))


def chart_data(events: Iterable[Event], symbol: str) -> ChartData:
    data = ChartData(normalize_symbol(symbol))
    for event in events:
        data.add(event)
    return data


def plot(events: Iterable[Event], symbol: str, out: str | Path) -> ChartData:
    """Chart ``symbol`` from ``events`` into the image ``out`` (its suffix picks the format: .png, .svg, .pdf)."""
    data = chart_data(events, symbol)
    draw(data, out)
    return data


def draw(data: ChartData, out: str | Path) -> None:
    """ValueError when ``data`` holds neither a book nor a trade of its symbol: an empty chart explains nothing."""
    if not data.samples and not data.trades:
        raise ValueError(f"no book or trade of {data.symbol} in these events")
    figure = Figure(figsize=(12, 9), layout="constrained")
    price, spread, depth = figure.subplots(3, 1, sharex=True, height_ratios=(3, 1, 3))
    figure.suptitle(f"{data.symbol}: {len(data.samples)} book states, {len(data.trades)} trades")
    _draw_prices(price, data)
    _draw_spread(spread, data)
    _draw_depth(depth, data)
    depth.set_xlabel("receive time (UTC)")
    for axes in (price, spread, depth):
        axes.ticklabel_format(axis="y", useOffset=False)
    figure.savefig(out, dpi=100)


def _times(stamps: Iterable[int]) -> np.ndarray[tuple[int], np.dtype[np.datetime64]]:
    """Receive times in ns as UTC datetimes, which matplotlib labels as times of day."""
    return np.asarray(list(stamps), dtype="datetime64[ns]")


def _draw_prices(axes: Axes, data: ChartData) -> None:
    if data.samples:
        axes.plot(_times(s.ts for s in data.samples), [float(s.mid) for s in data.samples], lw=1, label="mid")
    for side, colour in (("buy", "tab:green"), ("sell", "tab:red"), (None, "tab:gray")):
        trades = [t for t in data.trades if t.side == side]
        if trades:
            sizes = [20 * float(t.qty) ** 0.5 + 4 for t in trades]
            label = f"{side or 'unknown side'} trades"
            prices = [float(t.price) for t in trades]
            axes.scatter(_times(t.ts_received for t in trades), prices, s=sizes, c=colour, alpha=0.6, label=label)
    axes.set_ylabel("price")
    axes.legend(loc="upper left")


def _draw_spread(axes: Axes, data: ChartData) -> None:
    axes.step(_times(s.ts for s in data.samples), [float(s.spread) for s in data.samples], where="post", lw=1)
    axes.set_ylabel("spread")


def _draw_depth(axes: Axes, data: ChartData) -> None:
    """Size resting at each price over time; each column shows the last book state within it."""
    axes.set_ylabel("price (depth heatmap)")
    if not data.samples:
        return
    prices = [float(price) for sample in data.samples for price, _ in sample.levels]
    first, last = data.samples[0].ts, data.samples[-1].ts
    columns = min(HEATMAP_COLUMNS, len(data.samples))
    time_edges = np.linspace(first, max(last, first + 1), columns + 1)
    price_edges = np.linspace(min(prices), max(*prices, min(prices) + 1e-9), HEATMAP_ROWS + 1)
    grid = np.full((HEATMAP_ROWS, columns), np.nan)
    for sample in data.samples:
        column = min(int(np.searchsorted(time_edges, sample.ts, side="right")) - 1, columns - 1)
        grid[:, column] = 0.0
        for price, qty in sample.levels:
            row = min(int(np.searchsorted(price_edges, float(price), side="right")) - 1, HEATMAP_ROWS - 1)
            grid[row, column] += float(qty)
    for column in range(1, columns):  # a column no state fell in shows the state before it
        if np.isnan(grid[:, column]).all():
            grid[:, column] = grid[:, column - 1]
    mesh = axes.pcolormesh(_times(int(edge) for edge in time_edges), price_edges, grid, cmap="viridis")
    axes.plot(_times(s.ts for s in data.samples), [float(s.mid) for s in data.samples], c="white", lw=0.8)
    axes.figure.colorbar(mesh, ax=axes, label="size")
