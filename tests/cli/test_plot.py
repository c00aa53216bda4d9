"""The chart of a symbol, drawn from events a live feed delivered from the simulator."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import sdk
from schemas import BookSnapshot, BookUpdate, Event, Trade
from sdk import registry
from sdk.plot import chart_data, plot
from tests.cli.test_cli import xfeeds

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.anyio
@pytest.mark.loopback
async def test_the_chart_follows_the_book_and_the_trades(tmp_path: Path) -> None:
    adapter = registry.get("kraken")
    events: list[Event] = []
    async with adapter.make_simulator(tick_interval=0.02) as simulator, sdk.Feed(adapter, simulator.url) as feed:
        await feed.subscribe(sdk.book("BTC/USD"), sdk.trades("BTC/USD"), sdk.book("ETH/USD"))
        with anyio.fail_after(10):
            async for event in feed:
                events.append(event)
                if sum(isinstance(e, Trade) and e.symbol == "BTC/USD" for e in events) >= 10 and len(events) > 80:
                    break
        book = feed.orderbook("BTC/USD")
        bids, asks, mid, spread = book.bids(10), book.asks(10), book.mid, book.spread
    out = tmp_path / "chart.png"
    data = plot(events, "btc/usd", out)
    assert out.read_bytes().startswith(PNG_MAGIC)
    last = data.samples[-1]
    assert (last.mid, last.spread) == (mid, spread)
    assert sorted(last.levels) == sorted(bids + asks)
    assert [t.trade_id for t in data.trades] == [
        e.trade_id for e in events if isinstance(e, Trade) and e.symbol == "BTC/USD"
    ]
    book_events = [e for e in events if isinstance(e, (BookSnapshot, BookUpdate)) and e.symbol == "BTC/USD"]
    assert len(data.samples) == len(book_events)
    assert any(isinstance(e, BookSnapshot) and e.symbol == "ETH/USD" for e in events)  # and it was left out


def test_a_chart_of_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no book or trade of BTC/USD"):
        plot([], "BTC/USD", tmp_path / "chart.png")
    assert chart_data([], "BTC/USD").samples == []


def test_plot_from_the_command_line(tmp_path: Path) -> None:
    recording = tmp_path / "recording"
    recorded = xfeeds("record", "kraken", "book", "BTC/USD", "--simulate", "--seconds", "2", "--out", str(recording))
    assert recorded.returncode == 0, recorded.stderr
    out = tmp_path / "chart.png"
    files = sorted(str(path) for path in recording.iterdir())
    result = xfeeds("plot", *files, "--symbol", "BTC/USD", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(PNG_MAGIC)
