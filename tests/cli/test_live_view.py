"""The live book view, drawn into a fixed-size recording console from a feed on the simulator."""

from __future__ import annotations

import io
import subprocess
import sys

import anyio
import pytest
from rich.console import Console

import sdk
from schemas import Trade
from sdk import registry
from sdk.books import BookTop
from sdk.view import LadderView, levels_for, watch_live
from tests.cli.test_cli import xfeeds

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

WIDTH, HEIGHT = 100, 24


def recording_console() -> Console:
    return Console(record=True, width=WIDTH, height=HEIGHT, file=io.StringIO(), color_system=None)


def assert_shows(text: str, top: BookTop) -> None:
    """The ladder's rows, read back from the screen, are the book's top levels and its spread."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["bid", "qty", "price"])
    middle = next(i for i, line in enumerate(lines) if line.split()[:1] == ["spread"])
    asks = [tuple(line.split()[:2]) for line in lines[head + 1 : middle]]
    bids = [tuple(reversed(line.split()[:2])) for line in lines[middle + 1 : middle + 1 + len(top.bids)]]
    assert asks == [(f"{price:f}", f"{qty:f}") for price, qty in reversed(top.asks)]
    assert bids == [(f"{price:f}", f"{qty:f}") for price, qty in top.bids]
    assert top.spread is not None and top.mid is not None
    assert lines[middle].split()[:4] == ["spread", f"{top.spread:f}", "mid", f"{top.mid:f}"]


async def test_the_picture_shows_the_books_top_levels_and_spread() -> None:
    adapter = registry.get("kraken")
    async with adapter.make_simulator(tick_interval=0.02) as simulator, sdk.Feed(adapter, simulator.url) as feed:
        await feed.subscribe(sdk.book("BTC/USD"), sdk.trades("BTC/USD"))
        view = LadderView("kraken", "BTC/USD")
        book = feed.orderbook("BTC/USD")
        with anyio.fail_after(10):
            async for event in feed:
                view.observe(event)
                if book.valid and len(view.trades) >= 3 and feed.book_stats.checks >= 5:
                    break
        console = recording_console()
        levels = levels_for(HEIGHT, book.depth)
        top = book.top(levels)
        console.print(view.render(top, feed.book_stats, connected=feed.connected, rate=12.5))
    text = console.export_text()
    assert 1 <= levels < book.depth and len(top.asks) == len(top.bids) == levels
    assert_shows(text, top)
    assert "book valid" in text and f"checksum checks {feed.book_stats.checks}  failures 0" in text
    assert "connection connected" in text and "12.5 msg/s" in text
    latest = view.trades[0]
    assert isinstance(latest, Trade) and f"{latest.qty:f}  {latest.price:f}" in text


async def test_watch_live_leaves_the_last_picture_of_the_book() -> None:
    adapter = registry.get("kraken")
    async with adapter.make_simulator(tick_interval=0.02) as simulator, sdk.Feed(adapter, simulator.url) as feed:
        requests = [sdk.book("BTC/USD"), sdk.trades("BTC/USD")]
        await feed.subscribe(*requests)
        console = recording_console()
        refused = await watch_live(feed, requests[0], requests, count=60, console=console)
        top = feed.orderbook("BTC/USD").top(levels_for(HEIGHT, 10))
    assert not refused
    assert_shows(console.export_text(), top)


async def test_watch_live_ends_when_every_subscription_is_refused() -> None:
    adapter = registry.get("kraken")
    async with adapter.make_simulator() as simulator, sdk.Feed(adapter, simulator.url) as feed:
        requests = [sdk.book("NOPE/USD"), sdk.trades("NOPE/USD")]
        await feed.subscribe(*requests)
        console = recording_console()
        with anyio.fail_after(10):
            assert await watch_live(feed, requests[0], requests, console=console)
    assert "refused book:NOPE/USD@10" in console.export_text()


def test_live_without_rich_names_the_extra() -> None:
    program = (
        "import sys; sys.modules['rich'] = None\n"  # what an install without the view extra looks like
        "from sdk.cli import main\n"
        "sys.exit(main(['watch', 'kraken', 'book', 'BTC/USD', '--simulate', '--live', '--seconds', '1']))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "pip install 'xfeeds[view]'" in result.stderr


def test_live_from_the_command_line_exits_cleanly() -> None:
    result = xfeeds("watch", "kraken", "book", "BTC/USD", "--simulate", "--live", "--count", "30")
    assert result.returncode == 0, result.stderr
    assert "spread" in result.stdout and "book valid" in result.stdout
