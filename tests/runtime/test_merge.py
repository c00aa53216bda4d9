"""Several feeds as one stream: every event once, in each source's receive order, and a consolidated
best bid and offer that is the best of the venues' books at every step, crossings flagged."""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal

import anyio
import pytest
from anyio.from_thread import start_blocking_portal

import sdk
from adapters.kraken.simulator import KrakenSimulator
from adapters.midchains.simulator import MidchainsSimulator
from schemas import BookLevel, BookSnapshot, BookUpdate, ConsolidatedQuote, Disconnected, Event, Trade
from sdk.merge import consolidated_quote
from sdk.testing import collect_until

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

SYMBOL = "BTC/USD"
REQUESTS = (sdk.trades(SYMBOL), sdk.book(SYMBOL, depth=10))


class Books:
    """Each venue's book rebuilt from the merged stream alone: it matches the feeds' maintained
    books only if every book event of each source arrived once and in order."""

    def __init__(self) -> None:
        self.sides: dict[str, tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]] = {}

    def apply(self, event: BookSnapshot | BookUpdate) -> None:
        if isinstance(event, BookSnapshot):
            self.sides[event.exchange] = ({}, {})
        bids, asks = self.sides[event.exchange]
        for side, levels in ((bids, event.bids), (asks, event.asks)):
            _apply(side, levels)
        self.sides[event.exchange] = (
            dict(sorted(bids.items(), reverse=True)[: event.depth]),
            dict(sorted(asks.items())[: event.depth]),
        )

    def quote(self) -> ConsolidatedQuote:
        tops = [
            (venue, max(bids.items()) if bids else None, min(asks.items()) if asks else None)
            for venue, (bids, asks) in self.sides.items()
        ]
        return consolidated_quote(SYMBOL, tops, 0)


def _apply(side: dict[Decimal, Decimal], levels: tuple[BookLevel, ...]) -> None:
    for level in levels:
        if level.qty:
            side[level.price] = level.qty
        else:
            side.pop(level.price, None)


def check_merged(events: list[Event], venues: set[str]) -> list[ConsolidatedQuote]:
    """Each source's events in its receive order, each once; every quote the best of the books before it."""
    books = Books()
    quotes: list[ConsolidatedQuote] = []
    for venue in venues:
        own = [e for e in events if e.exchange == venue]
        assert own, f"nothing from {venue}"
        times = [e.ts_received for e in own]
        assert times == sorted(times)
        trade_ids = [e.trade_id for e in own if isinstance(e, Trade) and e.trade_id is not None]
        assert len(trade_ids) == len(set(trade_ids))
    for event in events:
        if isinstance(event, BookSnapshot | BookUpdate):
            books.apply(event)
        elif isinstance(event, ConsolidatedQuote):
            expected = books.quote()
            assert (event.bid, event.ask, event.crossed, event.locked) == (
                expected.bid,
                expected.ask,
                expected.crossed,
                expected.locked,
            )
            for price, qty, venue in (
                (event.bid, event.bid_qty, event.bid_venue),
                (event.ask, event.ask_qty, event.ask_venue),
            ):
                assert venue is not None and price is not None
                bids, asks = books.sides[venue]
                assert qty == (bids if venue == event.bid_venue and price == event.bid else asks).get(price)
            quotes.append(event)
    return quotes


async def test_two_venues_merged_with_a_consolidated_quote() -> None:
    async with (
        KrakenSimulator(tick_interval=0.002) as kraken_venue,
        MidchainsSimulator(tick_interval=0.002) as midchains_venue,
        sdk.merge(
            sdk.connect("kraken", kraken_venue.url), sdk.connect("midchains", midchains_venue.url), consolidate=[SYMBOL]
        ) as merged,
    ):
        for source in merged.sources:
            await merged.subscribe(source, *REQUESTS)

        def enough(events: list[Event]) -> bool:
            quotes = [e for e in events if isinstance(e, ConsolidatedQuote)]
            return len(quotes) >= 30 and {q.bid_venue for q in quotes} >= {"kraken", "midchains"}

        events = await collect_until(merged, enough, timeout=20)
    quotes = check_merged(events, {"kraken", "midchains"})
    assert all(q.exchange == "consolidated" and q.symbol == SYMBOL for q in quotes)
    assert {type(e).__name__ for e in events} >= {"Status", "Subscribed", "BookSnapshot", "BookUpdate", "Trade"}


async def test_a_crossed_market_between_venues_is_flagged() -> None:
    """Two venues of the same exchange with their own random walks cross each other soon enough."""
    async with (
        KrakenSimulator(tick_interval=0.002, seed=1) as one,
        MidchainsSimulator(tick_interval=0.002, seed=7) as other,
        sdk.merge(sdk.connect("kraken", one.url), sdk.connect("midchains", other.url), consolidate=[SYMBOL]) as merged,
    ):
        for source in merged.sources:
            await merged.subscribe(source, sdk.book(SYMBOL, depth=10))
        events = await collect_until(
            merged, lambda events: isinstance(events[-1], ConsolidatedQuote) and events[-1].crossed, timeout=20
        )
    crossed = check_merged(events, {"kraken", "midchains"})[-1]
    assert crossed.bid is not None and crossed.ask is not None and crossed.bid > crossed.ask
    assert crossed.bid_venue != crossed.ask_venue


def test_a_source_that_gives_up_leaves_the_others_running() -> None:
    """Each venue in its own thread, so one can go away mid-stream; the merge ends with the last."""
    give_up = sdk.ReconnectPolicy(initial=0.01, cap=0.01, max_attempts=1)
    with ExitStack() as kraken_side, ExitStack() as midchains_side:
        kraken_venue = kraken_side.enter_context(
            kraken_side.enter_context(start_blocking_portal()).wrap_async_context_manager(
                KrakenSimulator(tick_interval=0.002)
            )
        )
        midchains_venue = midchains_side.enter_context(
            midchains_side.enter_context(start_blocking_portal()).wrap_async_context_manager(
                MidchainsSimulator(tick_interval=0.002)
            )
        )
        with sdk.merge_sync(
            sdk.connect("kraken", kraken_venue.url, reconnect=give_up),
            sdk.connect("midchains", midchains_venue.url, reconnect=give_up),
        ) as merged:
            for source in merged.sources:
                merged.subscribe(source, sdk.trades(SYMBOL))
            events: list[Event] = []
            for event in merged:
                events.append(event)
                if {e.exchange for e in events if isinstance(e, Trade)} == {"kraken", "midchains"}:
                    break
            kraken_side.close()
            for event in merged:
                events.append(event)
                if isinstance(event, Disconnected) and event.final:
                    break
            assert event.exchange == "kraken"
            midchains_trades = sum(isinstance(e, Trade) and e.exchange == "midchains" for e in events)
            for event in merged:
                events.append(event)
                if sum(isinstance(e, Trade) and e.exchange == "midchains" for e in events) > midchains_trades + 5:
                    break  # kraken has given up; midchains goes on
            midchains_side.close()
            with pytest.raises(sdk.FeedClosed) as ended:
                events.extend(merged)  # every source has ended by a policy: so has the merge, and says so
            assert ended.value.failed
        assert [e.exchange for e in events if isinstance(e, Disconnected) and e.final] == ["kraken", "midchains"]


async def test_closing_the_merge_closes_its_sources() -> None:
    async with (
        KrakenSimulator(tick_interval=0.002) as kraken_venue,
        MidchainsSimulator(tick_interval=0.002) as midchains_venue,
    ):
        kraken, midchains = sdk.connect("kraken", kraken_venue.url), sdk.connect("midchains", midchains_venue.url)
        merged = sdk.merge(kraken, midchains, buffer_size=4)
        async with merged:
            await kraken.subscribe(sdk.trades(SYMBOL))
            await midchains.subscribe(sdk.trades(SYMBOL))
            await anyio.sleep(0.3)  # the readers fill the small buffer and wait for the consumer
            assert await merged.next_batch()
        assert not kraken.connected and not midchains.connected
        with pytest.raises(sdk.FeedClosed):
            await merged.next_batch()
        assert [event async for event in merged] == []


def test_the_blocking_twin() -> None:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(KrakenSimulator(tick_interval=0.002)) as kraken_venue,
        portal.wrap_async_context_manager(MidchainsSimulator(tick_interval=0.002)) as midchains_venue,
        sdk.merge_sync(
            sdk.connect("kraken", kraken_venue.url), sdk.connect("midchains", midchains_venue.url), consolidate=[SYMBOL]
        ) as merged,
    ):
        for source in merged.sources:
            merged.subscribe(source, *REQUESTS)
        events: list[Event] = []
        for event in merged:
            events.append(event)
            if sum(isinstance(e, ConsolidatedQuote) for e in events) >= 10:
                break
    assert check_merged(events, {"kraken", "midchains"})
