"""Event sources for the fan-out tests: venue trades with ids, handed out in batches, optionally paced."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Self

import anyio

from schemas.events import Event, Trade
from sdk.errors import FeedClosed


def trades(count: int, *, exchange: str = "kraken", symbol: str = "BTC/USD", first: int = 1) -> list[Event]:
    """``count`` distinct trades, as a venue sends them: each with its own trade id."""
    return [
        Trade(
            exchange=exchange,
            symbol=symbol,
            ts_exchange=1_700_000_000_000_000_000 + number,
            ts_received=1_700_000_000_000_000_000 + number,
            price=Decimal("50000.1") + number,
            qty=Decimal("0.00100000"),
            side="buy" if number % 2 else "sell",
            trade_id=str(number),
        )
        for number in range(first, first + count)
    ]


class ListSource:
    """An ``EventSource`` over given events, ``batch`` at a time, ``pause`` seconds apart."""

    def __init__(self, events: Sequence[Event], *, batch: int = 100, pause: float = 0.0) -> None:
        self.events = list(events)
        self.batch = batch
        self.pause = pause
        self.position = 0
        self.closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self.closed = True

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            try:
                batch = await self.next_batch()
            except FeedClosed:
                return
            for event in batch:
                yield event

    async def next_batch(self) -> list[Event]:
        if self.closed or self.position >= len(self.events):
            raise FeedClosed("every event handed out")
        if self.pause and self.position:
            await anyio.sleep(self.pause)
        batch = self.events[self.position : self.position + self.batch]
        self.position += len(batch)
        return batch
