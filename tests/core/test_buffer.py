"""The batch hand-off between the connection task and the consumer."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import BookLevel, BookSnapshot, ErrorEvent, Event, Subscribed, Subscription, Trade
from sdk.buffer import EVENT_BYTES, LEVEL_BYTES, BufferOverflow, EventBuffer, FeedClosed

pytestmark = pytest.mark.anyio


def events(count: int, start: int = 0) -> list[Event]:
    return [ErrorEvent(exchange="t", message=str(i), ts_received=i) for i in range(start, start + count)]


async def test_order_is_kept_and_batches_drain() -> None:
    buffer = EventBuffer(100)
    await buffer.put(events(3))
    await buffer.put(events(2, 3))
    assert (await buffer.get()).ts_received == 0
    assert [e.ts_received for e in await buffer.get_batch()] == [1, 2, 3, 4]


async def test_writer_waits_at_capacity_until_reader_catches_up() -> None:
    buffer = EventBuffer(5)
    written: list[int] = []

    async def writer() -> None:
        for batch in range(4):
            await buffer.put(events(5, batch * 5))
            written.append(batch)

    async with anyio.create_task_group() as group:
        group.start_soon(writer)
        await anyio.sleep(0.05)
        assert written == [0] and len(buffer) == 5  # blocked: the bound holds
        received = [(await buffer.get()).ts_received for _ in range(20)]
    assert received == list(range(20))


async def test_close_wakes_reader_after_draining() -> None:
    buffer = EventBuffer(5)
    await buffer.put(events(1))
    buffer.close("done")
    assert (await buffer.get()).ts_received == 0
    with pytest.raises(FeedClosed, match="done"):
        await buffer.get()


def trades(count: int, start: int = 0) -> list[Event]:
    return [
        Trade(exchange="t", symbol="BTC/USD", price=Decimal(1), qty=Decimal(1), side="buy", ts_received=i)
        for i in range(start, start + count)
    ]


def snapshot(levels: int, stamp: int = 0) -> BookSnapshot:
    bids = tuple(BookLevel(Decimal(i + 1), Decimal(1)) for i in range(levels))
    return BookSnapshot(exchange="t", symbol="BTC/USD", depth=levels, bids=bids, asks=(), ts_received=stamp)


async def test_drop_oldest_drops_only_market_data_and_keeps_control_events_in_order() -> None:
    buffer = EventBuffer(4, "drop_oldest")
    acknowledged = Subscribed(
        exchange="t", symbol="BTC/USD", subscription=Subscription(channel="trade", symbol="BTC/USD"), ts_received=1
    )
    assert await buffer.put([trades(1)[0], acknowledged, *trades(2, 2)]) == []
    dropped = await buffer.put([*trades(2, 4), *events(1, 6)])
    assert [e.ts_received for e in dropped] == [0, 2, 3]
    assert [(type(e), e.ts_received) for e in await buffer.get_batch()] == [
        (Subscribed, 1),
        (Trade, 4),
        (Trade, 5),
        (ErrorEvent, 6),
    ]


async def test_drop_oldest_waits_when_only_control_events_fill_the_buffer() -> None:
    buffer = EventBuffer(2, "drop_oldest")
    await buffer.put(events(2))
    with anyio.move_on_after(0.05) as waited:
        await buffer.put(events(1, 2))
    assert waited.cancelled_caught and len(buffer) == 2  # nothing dropped, the bound holds
    assert (await buffer.get()).ts_received == 0
    assert await buffer.put(events(1, 2)) == []
    assert [e.ts_received for e in await buffer.get_batch()] == [1, 2]


async def test_large_books_fill_the_buffer_by_bytes_before_its_event_capacity() -> None:
    book_bytes = EVENT_BYTES + 100 * LEVEL_BYTES
    buffer = EventBuffer(1_000, max_bytes=3 * book_bytes)
    for stamp in range(3):
        await buffer.put([snapshot(100, stamp)])
    assert buffer.bytes == 3 * book_bytes
    with anyio.move_on_after(0.05) as waited:
        await buffer.put([snapshot(100, 3)])
    assert waited.cancelled_caught and len(buffer) == 3
    await buffer.get()
    assert buffer.bytes == 2 * book_bytes


async def test_fail_raises_once_the_bytes_bound_is_reached() -> None:
    buffer = EventBuffer(1_000, "fail", max_bytes=EVENT_BYTES + 100 * LEVEL_BYTES)
    await buffer.put([snapshot(100)])
    with pytest.raises(BufferOverflow, match="bytes"):
        await buffer.put(trades(1))


async def test_drop_oldest_drops_large_books_to_stay_within_its_bytes() -> None:
    buffer = EventBuffer(1_000, "drop_oldest", max_bytes=3 * (EVENT_BYTES + 100 * LEVEL_BYTES))
    dropped = [event for stamp in range(10) for event in await buffer.put([snapshot(100, stamp)])]
    assert [e.ts_received for e in dropped] == list(range(7))
    assert buffer.bytes <= 3 * (EVENT_BYTES + 100 * LEVEL_BYTES) and len(buffer) == 3


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(st.lists(st.booleans(), max_size=8), max_size=20), room=st.integers(1, 6))
def test_drop_oldest_loses_only_market_data_and_accounts_for_every_event(batches: list[list[bool]], room: int) -> None:
    """Each batch is a pattern, True for a trade and False for a control event; the reader reads at the end.

    The capacity leaves ``room`` for market data beside every control event, so the writer never waits.
    """
    capacity = sum(not market for pattern in batches for market in pattern) + room

    async def run() -> tuple[list[Event], list[Event], list[Event]]:
        buffer = EventBuffer(capacity, "drop_oldest")
        sent: list[Event] = []
        dropped: list[Event] = []
        for pattern in batches:
            batch = [(trades if market else events)(1, len(sent) + n)[0] for n, market in enumerate(pattern)]
            sent += batch
            dropped += await buffer.put(batch)
            assert len(buffer) <= capacity
        buffer.close()
        received: list[Event] = []
        with pytest.raises(FeedClosed):
            while True:
                received += await buffer.get_batch()
        return sent, dropped, received

    sent, dropped, received = anyio.run(run)
    assert all(isinstance(e, Trade) for e in dropped)
    assert sorted(e.ts_received for e in dropped + received) == [e.ts_received for e in sent]
    assert [e.ts_received for e in received] == sorted(e.ts_received for e in received)  # order is kept
    assert dropped == sorted(dropped, key=lambda e: e.ts_received)  # the oldest went first
    if dropped:
        assert all(e.ts_received > dropped[-1].ts_received for e in received if isinstance(e, Trade))
