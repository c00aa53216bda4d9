"""Deterministic Kraken frame corpora, rendered by the project's own simulator sessions.

A simulator session is sans-I/O: it answers subscribe requests and renders market steps into
exactly the frames it would send (book-10 updates with correct checksums, trades, tickers), so a
corpus is those frames collected from direct calls, with no socket and no event loop.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.kraken.simulator import KrakenSimulator
from adapters.kraken_v1.simulator import KrakenV1Simulator
from sdk.simulation.simulator import Simulator

STEP_NS = 1_000_000
START_NS = 1_700_000_000_000_000_000

KRAKEN_V1_REQUESTS = [
    f'{{"event":"subscribe","pair":["XBT/USD"],"subscription":{options}}}'
    for options in ('{"name":"book","depth":10}', '{"name":"trade"}', '{"name":"ticker"}')
]
"""What a v1 client sends for the corpus's channels: BTC/USD book-10, trades, tickers."""


def _render(simulator: Simulator, requests: Sequence[str], count: int) -> list[str]:
    session = simulator.new_session()
    now = START_NS
    frames = [frame for request in requests for frame in session.on_message(request.encode(), now).frames]
    while len(frames) < count:
        now += STEP_NS
        frames += session.on_market(simulator.market.step(now))
    return frames


def kraken_v1_frames(count: int, *, seed: int = 42) -> list[str]:
    """At least ``count`` v1 data frames for XBT/USD: a book-10 snapshot, updates, trades, tickers."""
    frames = _render(KrakenV1Simulator(seed=seed), KRAKEN_V1_REQUESTS, count)
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
    frames = _render(KrakenSimulator(seed=seed), requests, count)
    return [frame for frame in frames if frame.startswith('{"channel"')]
