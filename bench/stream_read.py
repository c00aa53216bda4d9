"""Consumer-group reading of a Redis stream: read + acknowledge + decode into typed events through
``sdk.stream``, beside raw redis-py ``XREADGROUP COUNT 1000`` + ``XACK`` without decoding.

    python -m bench.stream_read [--redis-url redis://127.0.0.1:6379/0] [--events 300000]

The stream holds real-shaped events: a Kraken v2 corpus (book-10 updates, trades, tickers) decoded
by the adapter, each stored as a publisher stores it (``EntryCodec``). Without ``--redis-url`` a
private ``redis-server`` is started on a free port. Every round reads the whole stream in a fresh
group, each variant in turn; the medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis.asyncio

import sdk
from bench.corpus import START_NS, kraken_v2_frames
from sdk import registry
from sdk.fanout.entries import EVENT, EntryCodec, identity_of
from sdk.fanout.local_server import RedisServer

STREAM = "bench:kraken:all"
ROUNDS = 3


def corpus_payloads(count: int) -> list[bytes]:
    """``count`` encoded events of a Kraken v2 corpus, repeated as needed."""
    codec = registry.get("kraken").new_codec()
    events = [event for frame in kraken_v2_frames(20_000) for event in codec.decode_frame(frame, START_NS)]
    encoder = EntryCodec()
    encoded = [encoder.encode(event) for event in events if identity_of(event)]
    return (encoded * (count // len(encoded) + 1))[:count]


async def fill(client: redis.asyncio.Redis, payloads: list[bytes]) -> None:
    await client.delete(STREAM)
    for start in range(0, len(payloads), 1000):
        pipe = client.pipeline(transaction=False)
        for payload in payloads[start : start + 1000]:
            pipe.xadd(STREAM, {EVENT: payload})
        await pipe.execute()


async def raw_read(url: str, group: str, total: int) -> int:
    client = redis.asyncio.Redis.from_url(url)
    await client.xgroup_create(STREAM, group, "0")
    read = 0
    while read < total:
        reply = await client.xreadgroup(group, "raw", {STREAM: ">"}, count=1000)
        ids = [entry_id for _name, entries in reply for entry_id, _fields in entries]
        await client.xack(STREAM, group, *ids)
        read += len(ids)
    await client.aclose()
    return read


async def reader_read(url: str, group: str, total: int) -> int:
    read = 0
    async with sdk.stream(url, group, "reader", streams=[STREAM], count=1000) as reader:
        while read < total:
            read += len(await reader.next_batch())
    return read


async def measure(run: Callable[[str, str, int], Awaitable[int]], url: str, group: str, total: int) -> float:
    started = time.perf_counter()
    read = await run(url, group, total)
    return read / (time.perf_counter() - started)


async def bench(url: str, count: int) -> None:
    client = redis.asyncio.Redis.from_url(url)
    payloads = corpus_payloads(count)
    await fill(client, payloads)
    print(f"stream of {count:,} events, {sum(map(len, payloads)) / count:.0f} B each on average")
    variants = {"raw XREADGROUP + XACK": raw_read, "sdk.stream (+ decode)": reader_read}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    ratios: list[float] = []
    for round_number in range(ROUNDS):
        for name, run in variants.items():
            rates[name].append(await measure(run, url, f"bench-{round_number}-{len(rates[name])}-{name[:3]}", count))
        ratios.append(rates["sdk.stream (+ decode)"][-1] / rates["raw XREADGROUP + XACK"][-1])
    for name, values in rates.items():
        each = ", ".join(f"{value:,.0f}" for value in values)
        print(f"{name:<24} {statistics.median(values):>10,.0f} events/s   (rounds: {each})")
    print(f"sdk.stream / raw: {statistics.median(ratios):.2f}")
    await client.delete(STREAM)
    await client.aclose()


@contextmanager
def private_server() -> Iterator[str]:
    """A redis-server of this run's own, on a free port, stopped at the end."""
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(bench(args.redis_url, args.events))
        return
    with private_server() as url:
        asyncio.run(bench(url, args.events))


if __name__ == "__main__":
    main()
