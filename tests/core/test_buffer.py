"""The batch hand-off between the connection task and the consumer."""

from __future__ import annotations

import anyio
import pytest

from schemas import ErrorEvent, Event
from sdk.buffer import EventBuffer, FeedClosed

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
