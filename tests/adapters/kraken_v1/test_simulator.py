"""The simulator's market data is self-consistent: books verify, channels agree."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

import sdk
from adapters.kraken_common.checksum import checksum_of_text
from adapters.kraken_v1.simulator import KrakenV1Simulator
from schemas import BookSnapshot, BookUpdate, Candle, Event, Quote, Ticker, Trade
from sdk import registry, testing
from sdk.testing import collect_until, of
from tests.conftest import fixture_lines


class ReferenceBook:
    """The plainest correct Kraken book: dicts, applied in order, cut to depth after each message."""

    def __init__(self, snapshot: BookSnapshot) -> None:
        self.depth = snapshot.depth
        self.bids = {level.price: level.qty for level in snapshot.bids}
        self.asks = {level.price: level.qty for level in snapshot.asks}

    def apply(self, update: BookUpdate) -> None:
        for side, levels in ((self.bids, update.bids), (self.asks, update.asks)):
            for level in levels:
                if level.qty == 0:
                    side.pop(level.price, None)
                else:
                    side[level.price] = level.qty
        for side, best_first in ((self.bids, True), (self.asks, False)):
            for price in sorted(side, reverse=best_first)[self.depth :]:
                del side[price]

    def checksum(self) -> int:
        def text(side: dict[Decimal, Decimal], best_first: bool) -> list[tuple[str, str]]:
            return [(f"{p:f}", f"{side[p]:f}") for p in sorted(side, reverse=best_first)]

        return checksum_of_text(text(self.asks, False), text(self.bids, True))


def replay(events: list[Event]) -> tuple[int, dict[str, ReferenceBook]]:
    books: dict[str, ReferenceBook] = {}
    verified = 0
    for event in events:
        if isinstance(event, BookSnapshot):
            books[event.symbol] = ReferenceBook(event)
        elif isinstance(event, BookUpdate):
            book = books[event.symbol]
            book.apply(event)
            assert book.checksum() == event.checksum, f"update {verified + 1} of {event.symbol}"
            verified += 1
    return verified, books


def test_reference_book_verifies_the_real_capture() -> None:
    codec = registry.get("kraken-v1").new_codec()
    events = [e for line in fixture_lines("kraken/v1_book.jsonl") for e in testing.decode(codec, line, 0)]
    assert replay(events)[0] == 979


@pytest.mark.anyio
@pytest.mark.loopback
@pytest.mark.parametrize("depth", [10, 25])
async def test_simulated_books_follow_kraken_rules_and_verify(depth: int) -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.001, seed=depth) as simulator,
        sdk.connect("kraken-v1", simulator.url) as feed,
    ):
        await feed.subscribe(sdk.book("BTC/USD", depth), sdk.book("DOGE/USD", depth))
        events = await collect_until(feed, lambda es: len(of(BookUpdate, es)) == 600, timeout=20)
    verified, books = replay(events)
    assert verified == 600
    updates = [e for e in events if isinstance(e, BookUpdate)]
    levels = [level for u in updates for level in (*u.bids, *u.asks)]
    assert any(level.republished for level in levels), "deletions inside the window are refilled with r"
    assert any(level.qty == 0 for level in levels)
    assert any(u.bids and u.asks for u in updates), "two-sided frames occur"
    for book in books.values():
        assert len(book.bids) == len(book.asks) == depth
        assert max(book.bids) < min(book.asks)


@pytest.mark.anyio
@pytest.mark.loopback
async def test_channels_tell_one_story() -> None:
    async with (
        KrakenV1Simulator(tick_interval=0.002) as simulator,
        sdk.connect("kraken-v1", simulator.url) as feed,
    ):
        await feed.subscribe(
            sdk.trades("ETH/USD"), sdk.ticker("ETH/USD"), sdk.quotes("ETH/USD"), sdk.candles("ETH/USD", "1m")
        )
        events = await collect_until(feed, lambda es: len(of(Trade, es)) == 30, timeout=20)
    last_trade: Trade | None = None
    checked = 0
    for event in events:  # every ticker and candle reflects the trade just before it
        if isinstance(event, Trade):
            last_trade = event
        elif isinstance(event, Ticker | Candle) and last_trade is not None:
            assert (event.last if isinstance(event, Ticker) else event.close) == last_trade.price
            checked += 1
    assert checked >= 40
    tickers = [e for e in events if isinstance(e, Ticker)]
    assert tickers[-1].trades_24h is not None and tickers[-1].trades_24h >= 29
    assert all(t.low_24h <= t.last <= t.high_24h for t in tickers)
    quotes = [e for e in events if isinstance(e, Quote)]
    assert quotes and all(q.bid < q.ask for q in quotes)


@pytest.mark.anyio
@pytest.mark.loopback
async def test_heartbeats_when_idle_and_pong_echoes_reqid() -> None:
    import msgspec

    from sdk.transport import connect

    async with KrakenV1Simulator(tick_interval=60, heartbeat_interval=0.05) as simulator:
        websocket = await connect(simulator.url)
        received: list[object] = []
        with anyio.fail_after(10):
            await websocket.send_text('{"event":"ping","reqid":42}')
            await websocket.send_text('{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"}}')
            while sum(m == {"event": "heartbeat"} for m in received) < 3:
                received += [msgspec.json.decode(m) for m in await websocket.receive_batch()]
        await websocket.close()
    assert received[0]["event"] == "systemStatus"  # type: ignore[index]
    assert {"event": "pong", "reqid": 42} in received
    assert received.index({"event": "pong", "reqid": 42}) < received.index({"event": "heartbeat"})
