"""Events stored a second by two collector processes against one, on a redis-server this benchmark
starts: what running a fleet's shards as separate processes buys on this machine.

Each collector does what ``xfeeds collect`` does for its shard: real Kraken v2 frames (rendered by
the simulator: book-10 with checksums, trades, tickers) go through a feed session (decode, books,
checksums verified) and the events into ``sdk.publish``. The frames are held in memory instead of
arriving on a socket, so the venue's pace does not limit the figure. Each collector publishes into
its own prefix (nothing is refused as a duplicate); the rate is every event stored over the wall
clock from the common start to the last collector's end. One and two collectors alternate, rounds
apart, and the median of each is reported.

    python -m bench.collectors [--events 60000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import statistics
import tempfile
import time
from pathlib import Path

import anyio
import anyio.lowlevel
import redis

import sdk
from bench.corpus import kraken_v2_frames
from bench.timing import hot_path_build
from schemas.events import Event
from sdk import registry
from sdk.errors import FeedClosed
from sdk.fanout.local_server import RedisServer
from sdk.fanout.publish import publish
from sdk.session import FeedSession
from sdk.source import EventList

FRAMES_PER_READ = 50
"""Frames a connection hands its session at once (what one socket read brings at a busy moment)."""


class DecodedFrames(EventList[Event]):
    """An event source over frames held in memory, decoded by a feed session as a connection would."""

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__(())
        self._frames = frames
        self._next_frame = 0
        self._session = FeedSession(registry.get("kraken"))
        self._session.subscribe([sdk.book("BTC/USD"), sdk.trades("BTC/USD"), sdk.ticker("BTC/USD")])
        self._session.connection_made(0.0, 0)

    async def next_batch(self) -> list[Event]:
        events: list[Event] = []
        while not events:
            if self._closed or self._next_frame >= len(self._frames):
                raise FeedClosed("every frame decoded")
            start = self._next_frame
            chunk = self._frames[start : start + FRAMES_PER_READ]
            events = self._session.receive(chunk, start * 1e-4, start)
            self._next_frame += len(chunk)
        await anyio.lowlevel.checkpoint()
        return events


def collector(
    url: str, prefix: str, frames: list[bytes], ready: multiprocessing.synchronize.Barrier, times: list[float]
) -> None:
    """One collector process: wait for the common start, decode and publish every frame."""

    async def run() -> int:
        async with publish(DecodedFrames(frames), url, prefix=prefix) as publisher:
            stats = await publisher.run()
        return stats.stored

    ready.wait()
    start, cpu = time.perf_counter(), time.process_time()
    stored = anyio.run(run)
    times.extend([start, time.perf_counter(), stored, time.process_time() - cpu])


def round_rate(url: str, processes: int, frames: list[bytes], tag: str) -> tuple[float, int, float]:
    """Events stored a second by ``processes`` collectors at once, how many they stored, and the
    CPU seconds the collectors used (so a machine busy with other work shows in the figures)."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        ready = context.Barrier(processes + 1)
        results = [manager.list() for _ in range(processes)]
        workers = [
            context.Process(target=collector, args=(url, f"{tag}-{number}", frames, ready, results[number]))
            for number in range(processes)
        ]
        for worker in workers:
            worker.start()
        ready.wait()
        for worker in workers:
            worker.join()
            if worker.exitcode != 0:
                raise RuntimeError(f"a collector exited with status {worker.exitcode}")
        starts, ends, stored, cpu = zip(*(tuple(result) for result in results), strict=True)
    total = int(sum(stored))
    return total / (max(ends) - min(starts)), total, sum(cpu)


def server_cpu(client: redis.Redis) -> float:
    """CPU seconds the redis-server process has used so far."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000, help="frames each collector publishes")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    frames = [frame.encode() for frame in kraken_v2_frames(arguments.events)]
    print(
        f"hot path: {hot_path_build()}; {len(frames):,} Kraken v2 frames per collector; load {os.getloadavg()[0]:.2f}"
    )
    rates: dict[int, list[float]] = {1: [], 2: []}
    stored: dict[int, int] = {}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    served: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            for number in range(arguments.rounds):
                for processes in (1, 2):
                    with redis.Redis.from_url(server.url) as client:
                        client.flushall()
                        before = server_cpu(client)
                        rate, stored[processes], used = round_rate(
                            server.url, processes, frames, f"b{number}-{processes}"
                        )
                        served[processes].append(server_cpu(client) - before)
                    rates[processes].append(rate)
                    cpu[processes].append(used)
        finally:
            server.stop()
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"median of {arguments.rounds} rounds, redis-server on loopback, each collector: decode + sdk.publish")
    for processes, rate in ((1, one), (2, two)):
        per_cpu = stored[processes] / statistics.median(cpu[processes])
        print(
            f"  {processes} collector process{'es' if processes > 1 else '  '} {rate / 1000:8.1f}k events stored/s "
            f"({stored[processes]:,} events; {per_cpu / 1000:.1f}k per CPU second of the collectors)"
        )
    print(f"  ratio {two / one:.2f}x (target: at least 1.8x)")
    collector_us = statistics.median(cpu[1]) / stored[1] * 1e6
    server_us = statistics.median(served[2]) / stored[2] * 1e6
    print(
        f"  CPU per event: collector {collector_us:.2f} us, redis-server {server_us:.2f} us; on two cores shared "
        f"with the server, two collectors can reach at most {2 * collector_us / (collector_us + server_us):.2f}x one"
    )


if __name__ == "__main__":
    main()
