"""Deterministic Kraken v1 frame corpora, rendered by the project's own simulator without sockets.

The simulator's session renders market steps into exactly the frames it would send (book-10
updates with correct checksums, trades, tickers); here its socket is a list.
"""

from __future__ import annotations

from typing import Any

import anyio

from adapters.kraken_v1.simulator import KrakenV1Session, KrakenV1Simulator

STEP_NS = 1_000_000


class _Recorder:
    """Stands in for the session's WebSocket: keeps every text frame."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send_text(self, text: str) -> None:
        self.frames.append(text)


def kraken_v1_frames(count: int, *, seed: int = 42, symbol: str = "XBT/USD") -> list[str]:
    """At least ``count`` data frames: one book-10 snapshot, then updates, trades and tickers."""

    async def render() -> list[str]:
        simulator = KrakenV1Simulator(seed=seed)
        recorder = _Recorder()
        session: Any = KrakenV1Session(simulator, recorder)  # type: ignore[arg-type]
        for name in ('{"name":"book","depth":10}', '{"name":"trade"}', '{"name":"ticker"}'):
            await session.on_message(f'{{"event":"subscribe","pair":["{symbol}"],"subscription":{name}}}'.encode())
        now = 1_700_000_000_000_000_000
        while len(recorder.frames) < count:
            now += STEP_NS
            await session.on_market(simulator.market.step(now))
        return [frame for frame in recorder.frames if frame.startswith("[")]

    return anyio.run(render)
