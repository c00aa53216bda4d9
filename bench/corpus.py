"""Deterministic Kraken frame corpora, rendered by the project's own simulators without sockets.

A simulator session renders market steps into exactly the frames it would send (book-10 updates
with correct checksums, trades, tickers); here its socket is a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from adapters.kraken.simulator import KrakenSession, KrakenSimulator
from adapters.kraken_v1.simulator import KrakenV1Session, KrakenV1Simulator
from sdk.simulation.simulator import Session, Simulator

STEP_NS = 1_000_000
START_NS = 1_700_000_000_000_000_000


class _Recorder:
    """Stands in for a session's WebSocket: keeps every text frame."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send_text(self, text: str) -> None:
        self.frames.append(text)


def _render(simulator: Simulator, session_type: type[Session], requests: Sequence[str], count: int) -> list[str]:
    async def render() -> list[str]:
        recorder = _Recorder()
        session: Any = session_type(simulator, recorder)  # type: ignore[arg-type]
        for request in requests:
            await session.on_message(request.encode())
        now = START_NS
        while len(recorder.frames) < count:
            now += STEP_NS
            await session.on_market(simulator.market.step(now))
        return recorder.frames

    return anyio.run(render)


def kraken_v1_frames(count: int, *, seed: int = 42) -> list[str]:
    """At least ``count`` v1 data frames for XBT/USD: a book-10 snapshot, updates, trades, tickers."""
    requests = [
        f'{{"event":"subscribe","pair":["XBT/USD"],"subscription":{options}}}'
        for options in ('{"name":"book","depth":10}', '{"name":"trade"}', '{"name":"ticker"}')
    ]
    frames = _render(KrakenV1Simulator(seed=seed), KrakenV1Session, requests, count)
    return [frame for frame in frames if frame.startswith("[")]


def kraken_v2_frames(count: int, *, seed: int = 42) -> list[str]:
    """At least ``count`` v2 channel messages for BTC/USD, starting with the instrument snapshot
    (the precisions a client needs for book checksums), then book-10, trades and tickers."""
    requests = [
        '{"method":"subscribe","params":{"channel":"instrument"},"req_id":1}',
        '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10},"req_id":2}',
        '{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"]},"req_id":3}',
        '{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD"]},"req_id":4}',
    ]
    frames = _render(KrakenSimulator(seed=seed), KrakenSession, requests, count)
    return [frame for frame in frames if frame.startswith('{"channel"')]
