"""Events published into Redis Streams a second from one collector core, against one ``XADD`` at a
time (what a naive publisher does) in the same run, on a redis-server this benchmark starts.

The events are real decoded ones: Kraken v1 frames rendered by the simulator (book-10 updates,
trades, tickers) through a feed session. Every variant stores the same events into a fresh prefix
each round, so de-duplication never refuses any of them; each variant's time includes computing
identities and encoding, as a collector pays them.

    python -m bench.publish [--events 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio

from bench.corpus import kraken_v1_frames
from bench.timing import pin_to_one_core
from schemas.events import Event
from sdk import registry
from sdk.fanout.entries import EntryCodec, StreamNames, is_venue_event
from sdk.fanout.local_server import RedisServer
from sdk.fanout.publish import publish
from sdk.session import FeedSession
from sdk.source import EventList

SLOW_SAMPLE = 5_000
"""Events timed for the one-at-a-time baseline: it runs at a few thousand a second."""


def decoded_events(count: int) -> list[Event]:
    """At least ``count`` market events decoded from simulator-rendered Kraken v1 frames."""
    session = FeedSession(registry.get("kraken-v1"))
    session.connection_made(0.0, 0)
    events: list[Event] = []
    frames = kraken_v1_frames(count)
    for index, frame in enumerate(frames):
        events += session.receive([frame.encode()], index * 1e-4, index)
    return [event for event in events if is_venue_event(event)]


async def one_at_a_time(url: str, prefix: str, events: list[Event]) -> int:
    names, codec = StreamNames(prefix), EntryCodec()
    client = redis.asyncio.Redis.from_url(url)
    for event in events[:SLOW_SAMPLE]:
        await client.xadd(names.of(event), {"e": codec.encode(event)})
    await client.aclose()
    return SLOW_SAMPLE


async def pipelined_plain(url: str, prefix: str, events: list[Event]) -> int:
    """redis-py's pipeline of plain ``XADD``s, 500 a round trip: fast, but no de-duplication."""
    names, codec = StreamNames(prefix), EntryCodec()
    client = redis.asyncio.Redis.from_url(url)
    for start in range(0, len(events), 500):
        pipe = client.pipeline(transaction=False)
        for event in events[start : start + 500]:
            pipe.xadd(names.of(event), {"e": codec.encode(event)})
        await pipe.execute()
    await client.aclose()
    return len(events)


async def xfeeds_publish(url: str, prefix: str, events: list[Event]) -> int:
    async with publish(EventList(events), url, prefix=prefix) as publisher:
        stats = await publisher.run()
    assert stats.stored == len(events), stats
    return len(events)


Variant = Callable[[str, str, list[Event]], Awaitable[int]]


async def measure(url: str, events: list[Event], rounds: int) -> dict[str, float]:
    variants: dict[str, Variant] = {
        "one XADD at a time (baseline)": one_at_a_time,
        "redis-py pipeline x500, no dedupe": pipelined_plain,
        "sdk.publish (script x500, deduped)": xfeeds_publish,
    }
    client = redis.asyncio.Redis.from_url(url)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(rounds):
        for index, (name, run) in enumerate(variants.items()):
            await client.flushall()
            start = time.perf_counter()
            count = await run(url, f"bench{round_number}-{index}", events)
            rates[name].append(count / (time.perf_counter() - start))
    await client.aclose()
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()  # before pinning: the server keeps the other core
        pin_to_one_core()
        events = decoded_events(arguments.events)
        try:
            rates = asyncio.run(measure(server.url, events, arguments.rounds))
        finally:
            server.stop()
    baseline = rates["one XADD at a time (baseline)"]
    print(f"\n{len(events):,} decoded Kraken v1 events, median of {arguments.rounds} rounds, redis-server on loopback")
    for name, rate in rates.items():
        print(f"  {name:<36} {rate / 1000:8.1f}k events/s  {rate / baseline:6.1f}x baseline")
    print("target: sdk.publish at least 60k events/s")


if __name__ == "__main__":
    main()
