"""The live terminal view of one maintained book (``xfeeds watch ... book SYMBOL --live``).

A ladder of the book's levels around the spread, its integrity (valid or resyncing, checksum
checks, failures, resyncs), a tape of the symbol's trades, the message rate and the connection's
state, redrawn in place with rich (the ``view`` extra). ``LadderView`` only gathers events and
draws a picture, so a test renders it into a fixed-size console without a terminal.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

import anyio
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from schemas.events import (
    BookInvalidated,
    Disconnected,
    Event,
    Reconnected,
    Status,
    Subscribed,
    SubscriptionError,
    Trade,
)
from schemas.subscription import Subscription
from sdk.books import BookStats, BookTop
from sdk.feed import Feed

TAPE_LENGTH = 15
REDRAW_INTERVAL = 0.25
_FRAME_LINES = 9
"""Lines of a picture besides the ladder's levels: header, health, table heads and borders, spread."""


class RateMeter:
    """Messages per second over the last ``window`` seconds, from a running total."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def sample(self, now: float, total: int) -> float:
        samples = self._samples
        samples.append((now, total))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        first_time, first_total = samples[0]
        elapsed = now - first_time
        return (total - first_total) / elapsed if elapsed > 0 else 0.0


class LadderView:
    """What the view shows besides the book itself, gathered from the feed's events, and the picture."""

    def __init__(self, exchange: str, symbol: str, tape_length: int = TAPE_LENGTH) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.trades: deque[Trade] = deque(maxlen=tape_length)
        self.exchange_status = "-"
        self.last_disconnect: str | None = None
        self.invalidations = 0
        self.subscribed: list[str] = []
        self.refused: list[str] = []

    def observe(self, event: Event) -> None:
        match event:
            case Trade() if event.symbol == self.symbol:
                self.trades.appendleft(event)
            case Status():
                self.exchange_status = event.detail or event.state
            case Disconnected():
                self.last_disconnect = event.reason
            case Reconnected():
                self.last_disconnect = None
            case BookInvalidated() if event.symbol == self.symbol:
                self.invalidations += 1
            case Subscribed():
                self.subscribed.append(str(event.subscription))
            case SubscriptionError():
                self.refused.append(f"{event.subscription or event.symbol or 'request'}: {event.message}")
            case _:
                pass

    def render(self, book: BookTop, stats: BookStats, *, connected: bool, rate: float) -> RenderableType:
        """The whole picture: header, book health, the ladder beside the trades tape."""
        connection = "connected" if connected else "reconnecting"
        if self.last_disconnect is not None:
            connection += f" (last drop: {self.last_disconnect})"
        header = Text.assemble((f"{self.exchange} {self.symbol}", "bold"), f"  {rate:.1f} msg/s")
        link = Text(f"connection {connection}  exchange {self.exchange_status}")
        health = Text.assemble(
            ("book valid", "green") if book.valid else ("book INVALID, resyncing", "bold red"),
            f"  checksum checks {stats.checks}  failures {stats.failures}  resyncs {stats.resyncs}"
            f"  invalidated {self.invalidations}",
        )
        parts: list[RenderableType] = [header, link, health]
        parts.extend(Text(f"refused {refusal}", style="red") for refusal in self.refused)
        body = Table.grid(padding=(0, 3))
        body.add_row(ladder(book), self._tape())
        parts.append(body)
        return Group(*parts)

    def _tape(self) -> Table:
        tape = Table(title="trades", title_justify="left", box=None, header_style="bold")
        tape.add_column("time")
        tape.add_column("side")
        tape.add_column("qty", justify="right")
        tape.add_column("price", justify="right")
        for trade in self.trades:
            clock = time.strftime("%H:%M:%S", time.localtime(trade.ts_received / 1e9))
            style = {"buy": "green", "sell": "red"}.get(trade.side or "", "")
            tape.add_row(clock, trade.side or "?", f"{trade.qty:f}", f"{trade.price:f}", style=style)
        return tape


def ladder(book: BookTop) -> Table:
    """Asks above (best at the bottom), the spread, bids below (best at the top)."""
    table = Table(title="book", title_justify="left", box=None, header_style="bold")
    table.add_column("bid qty", justify="right", style="green", no_wrap=True)
    table.add_column("price", justify="right", no_wrap=True)
    table.add_column("ask qty", justify="right", style="red", no_wrap=True)
    for price, qty in reversed(book.asks):
        table.add_row("", f"{price:f}", f"{qty:f}")
    spread = f"{book.spread:f}" if book.spread is not None else "-"
    mid = f"mid {book.mid:f}" if book.mid is not None else ""
    table.add_row(Text("spread", style="bold"), Text(spread, style="bold"), Text(mid, style="bold"))
    for price, qty in book.bids:
        table.add_row(f"{qty:f}", f"{price:f}", "")
    return table


def levels_for(height: int, depth: int) -> int:
    """Levels a side that fit ``height`` lines, at least one, at most the subscribed depth."""
    return max(1, min(depth, (height - _FRAME_LINES) // 2))


async def watch_live(
    feed: Feed,
    book: Subscription,
    requests: Sequence[Subscription],
    *,
    seconds: float | None = None,
    count: int | None = None,
    console: Console | None = None,
) -> bool:
    """Show ``book`` (subscribed on ``feed`` with ``requests``) until ``seconds`` have passed,
    ``count`` events have arrived or the user presses Ctrl-C; the last picture stays on the screen.

    Returns True when the exchange refused every one of ``requests``.
    """
    console = console or Console()
    view = LadderView(feed.adapter.name, book.symbol)
    orderbook = feed.orderbook(book.symbol, book.depth)
    meter = RateMeter()

    def picture() -> RenderableType:
        levels = levels_for(console.size.height, orderbook.depth)
        rate = meter.sample(anyio.current_time(), feed.stats.frames)
        return view.render(orderbook.top(levels), feed.book_stats, connected=feed.connected, rate=rate)

    refused = False
    with Live(picture(), console=console, screen=True, auto_refresh=False) as live:

        async def redraw() -> None:
            while True:
                live.update(picture(), refresh=True)
                await anyio.sleep(REDRAW_INTERVAL)

        async with anyio.create_task_group() as group:
            group.start_soon(redraw)
            with anyio.move_on_after(seconds):
                seen = 0
                async for event in feed:
                    view.observe(event)
                    seen += 1
                    if isinstance(event, SubscriptionError) and feed.all_refused(requests):
                        refused = True
                        break
                    if count is not None and seen >= count:
                        break
            group.cancel_scope.cancel()
    console.print(picture())
    return refused
