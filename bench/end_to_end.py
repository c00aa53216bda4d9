"""Socket to event: Kraken v1 frames over a loopback WebSocket, xfeeds against cryptofeed and the ceiling.

    pip install -e '.[bench]'    # cryptofeed, for the comparison
    python -m bench.end_to_end [--runs 3] [--transports websockets]

A local venue, in its own process on the other core, acknowledges the subscriptions as Kraken v1
does, then streams a fixed corpus of v1 frames (a book-10 snapshot and updates with correct
checksums, trades, tickers) as fast as the client reads: every frame is encoded once at start and
written in large chunks, so the venue is never what the client waits for. It closes the connection
after the last frame. Every contender runs in a fresh process pinned to one core, so the CPU time
and the peak memory it reports are its own:

- the ceiling: websockets' own asyncio client receiving, ``msgspec.json.decode`` of each frame;
- xfeeds, async facade (``sdk.connect``), iterating events, and taking them with ``next_batch``;
- xfeeds, sync facade (``sdk.connect_sync``), iterating events;
- cryptofeed's Kraken handler (book checksums verified too) behind websockets' asyncio client.

Each xfeeds contender runs once per transport in ``TRANSPORTS`` (a name and the ``connector`` it
passes to ``sdk.connect``). Rates are taken from the subscription to the venue's close; ratios are
of frame rates (the same corpus for all), within a run, and the median over runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from websockets.asyncio.client import connect as websocket_connect
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

import sdk
from adapters.kraken_v1.simulator import KrakenV1Simulator
from bench.corpus import KRAKEN_V1_REQUESTS, kraken_v1_frames
from bench.peers import cryptofeed_kraken
from bench.timing import hot_path_build, pin_to_one_core
from schemas import Disconnected
from sdk.connection import Connector, transport_connector

FRAMES = 170_000
SEED = 42
WRITE_CHUNK = 1 << 20
"""Bytes per venue write: large enough that the venue spends next to nothing per frame."""

TRANSPORTS: dict[str, Callable[[], Connector]] = {
    "websockets": lambda: transport_connector("websockets"),
    "picows": lambda: transport_connector("picows"),
}
"""The transports xfeeds is measured with (picows needs the ``xfeeds[fast]`` extra)."""


# -- the venue ------------------------------------------------------------------------------


def _venue() -> None:
    """Serve the corpus on an ephemeral port; print the port and the frame count, then serve until killed."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[0]})  # the clients take the last core
    frames = kraken_v1_frames(FRAMES, seed=SEED)
    stream = b"".join(Frame(Opcode.TEXT, frame.encode()).serialize(mask=False) for frame in frames)
    asyncio.run(_serve(stream, len(frames)))


async def _serve(stream: bytes, count: int) -> None:
    server = await asyncio.start_server(lambda r, w: _session(r, w, stream), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, count, flush=True)
    async with server:
        await server.serve_forever()


async def _session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: bytes) -> None:
    """One client: the handshake, acks for its subscriptions (the corpus holds the data they would
    start), the corpus in large writes, a normal close."""
    protocol = ServerProtocol(max_size=None)
    session = KrakenV1Simulator(seed=SEED).new_session()
    acked = 0
    try:
        while acked < len(KRAKEN_V1_REQUESTS):
            data = await reader.read(65536)
            if not data:
                return
            protocol.receive_data(data)
            for event in protocol.events_received():
                if isinstance(event, Request):
                    protocol.send_response(protocol.accept(event))
                    for text in session.on_open(0):
                        protocol.send_text(text.encode())
                elif event.opcode is Opcode.TEXT:
                    for part in session.on_message(event.data, 0).outgoing:
                        acked += part.ack
                        if not part.text.startswith("["):
                            protocol.send_text(part.text.encode())
            await _flush(protocol, writer)
        view = memoryview(stream)
        for start in range(0, len(view), WRITE_CHUNK):
            writer.write(view[start : start + WRITE_CHUNK])
            await writer.drain()
        protocol.send_close(1000)
        await _flush(protocol, writer)
        async with asyncio.timeout(5):  # until the client's closing frame (or its hang-up)
            while data := await reader.read(65536):
                protocol.receive_data(data)
                protocol.events_received()
                if await _flush(protocol, writer):
                    return
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()


async def _flush(protocol: ServerProtocol, writer: asyncio.StreamWriter) -> bool:
    """Write what the protocol has to send; True when it asks to end the TCP connection (the
    closing handshake is done, and a server hangs up first)."""
    hang_up = False
    for data in protocol.data_to_send():
        if data:
            writer.write(data)
        else:
            hang_up = True
    await writer.drain()
    return hang_up


# -- the contenders -------------------------------------------------------------------------


class Stopwatch:
    """Wall and CPU time (every thread of the process) between ``start`` and ``stop``."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


async def _ceiling(url: str, watch: Stopwatch) -> int:
    decode = msgspec.json.decode
    messages = 0
    async with websocket_connect(url) as websocket:
        watch.start()
        for request in KRAKEN_V1_REQUESTS:
            await websocket.send(request)
        async for message in websocket:
            decode(message)
            messages += 1
        watch.stop()
    return messages


async def _cryptofeed(url: str, watch: Stopwatch) -> int:
    events = 0

    async def count(*_: Any) -> None:
        nonlocal events
        events += 1

    feed = cryptofeed_kraken(count)
    if feed is None:
        raise SystemExit("cryptofeed is not installed (pip install -e '.[bench]')")
    handler = feed.message_handler
    async with websocket_connect(url) as websocket:
        watch.start()
        for request in KRAKEN_V1_REQUESTS:
            await websocket.send(request)
        async for message in websocket:
            await handler(message, None, time.time())  # as cryptofeed's connection handler calls it
        watch.stop()
    return events


def _subscriptions() -> list[Any]:
    return [sdk.book("BTC/USD", depth=10), sdk.trades("BTC/USD"), sdk.ticker("BTC/USD")]


def _options(transport: str) -> dict[str, Any]:
    return {"connector": TRANSPORTS[transport]()}


def _verified(feed: sdk.Feed | sdk.ShardedFeed | sdk.SyncFeed) -> None:
    stats = feed.book_stats
    if stats.checks == 0 or stats.failures:
        raise RuntimeError(f"the book was not verified: {stats}")


async def _xfeeds_async(url: str, watch: Stopwatch, transport: str) -> int:
    events = 0
    async with sdk.connect("kraken-v1", url, **_options(transport)) as feed:
        watch.start()
        await feed.subscribe(*_subscriptions())
        async for event in feed:
            events += 1
            if type(event) is Disconnected:
                break
        watch.stop()
        _verified(feed)
    return events


async def _xfeeds_batches(url: str, watch: Stopwatch, transport: str) -> int:
    events = 0
    async with sdk.connect("kraken-v1", url, **_options(transport)) as feed:
        watch.start()
        await feed.subscribe(*_subscriptions())
        ended = False
        while not ended:
            for event in await feed.next_batch():
                events += 1
                ended = ended or type(event) is Disconnected
        watch.stop()
        _verified(feed)
    return events


def _xfeeds_sync(url: str, watch: Stopwatch, transport: str) -> int:
    events = 0
    with sdk.connect_sync("kraken-v1", url, **_options(transport)) as feed:
        watch.start()
        feed.subscribe(*_subscriptions())
        for event in feed:
            events += 1
            if type(event) is Disconnected:
                break
        watch.stop()
        _verified(feed)
    return events


CEILING = "websockets + msgspec (ceiling)"
CRYPTOFEED = "cryptofeed handler + websockets"


def _contenders(transports: list[str]) -> list[str]:
    names = [CEILING]
    for transport in transports:
        names += [f"xfeeds async [{transport}]", f"xfeeds async next_batch [{transport}]", f"xfeeds sync [{transport}]"]
    return [*names, CRYPTOFEED]


def _run_contender(name: str, url: str) -> dict[str, float]:
    """Run one contender in this process and measure it."""
    watch = Stopwatch()
    runners: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        CEILING: lambda: _ceiling(url, watch),
        CRYPTOFEED: lambda: _cryptofeed(url, watch),
    }
    if name in runners:
        events = asyncio.run(runners[name]())
    else:
        kind, _, transport = name.removesuffix("]").partition(" [")
        if kind == "xfeeds sync":
            events = _xfeeds_sync(url, watch, transport)
        else:
            face = _xfeeds_batches if kind.endswith("next_batch") else _xfeeds_async
            events = asyncio.run(face(url, watch, transport))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"events": events, "wall": watch.wall, "cpu": watch.cpu, "peak_bytes": peak}


# -- the report -----------------------------------------------------------------------------


def _measure(name: str, url: str) -> dict[str, float]:
    """``name`` in a fresh process, its measurement as its last line of output."""
    command = [sys.executable, "-m", "bench.end_to_end", "--contender", name, "--url", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def _report(names: list[str], runs: list[dict[str, dict[str, float]]], frames: int) -> None:
    def median(name: str, value: Callable[[dict[str, float]], float]) -> float:
        return statistics.median(value(run[name]) for run in runs)

    def ratio(name: str, other: str) -> str:
        """Frame rate of ``name`` over that of ``other``, within each run."""
        if other not in names:
            return "-"
        return f"{statistics.median(run[other]['wall'] / run[name]['wall'] for run in runs):.2f}x"

    width = max(len(name) for name in names)
    print(f"\n{'':<{width}}  {'frames/s':>9}  {'events/s':>9}  {'vs cryptofeed':>13}  {'vs ceiling':>10}", end="")
    print(f"  {'CPU µs/event':>12}  {'peak RSS':>9}")
    for name in names:
        print(
            f"{name:<{width}}  {median(name, lambda r: frames / r['wall']) / 1000:8.1f}k"
            f"  {median(name, lambda r: r['events'] / r['wall']) / 1000:8.1f}k"
            f"  {ratio(name, CRYPTOFEED):>13}  {ratio(name, CEILING):>10}"
            f"  {median(name, lambda r: r['cpu'] / r['events'] * 1e6):12.2f}"
            f"  {median(name, lambda r: r['peak_bytes']) / 2**20:7.1f}MB"
        )
    if len(runs) > 1:
        print("\nratios run by run (frame rate over cryptofeed's / the ceiling's in the same run):")
        for name in names:
            if name in (CEILING, CRYPTOFEED):
                continue
            each = [
                f"{run[CRYPTOFEED]['wall'] / run[name]['wall']:.2f}x / {run[CEILING]['wall'] / run[name]['wall']:.2f}x"
                for run in runs
            ]
            print(f"  {name:<{width}}  {',  '.join(each)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of every contender, interleaved (median reported)")
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="xfeeds transports, comma-separated")
    parser.add_argument("--venue", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.venue:
        _venue()
        return
    if args.contender:
        pin_to_one_core()
        print(json.dumps(_run_contender(args.contender, args.url)))
        return
    transports = args.transports.split(",")
    unknown = set(transports) - set(TRANSPORTS)
    if unknown:
        parser.error(f"unknown transports {sorted(unknown)}; known: {sorted(TRANSPORTS)}")
    names = _contenders(transports)
    venue = subprocess.Popen([sys.executable, "-m", "bench.end_to_end", "--venue"], stdout=subprocess.PIPE, text=True)
    try:
        assert venue.stdout is not None
        port, frames = map(int, venue.stdout.readline().split())
        url = f"ws://127.0.0.1:{port}"
        print(f"hot path: {hot_path_build()}")
        print(f"corpus: {frames:,} Kraken v1 frames (book-10 with checksums, trades, tickers) from {url}")
        runs = []
        for number in range(args.runs):
            runs.append({name: _measure(name, url) for name in names})
            print(f"run {number + 1}/{args.runs} done", flush=True)
        _report(names, runs, frames)
    finally:
        venue.kill()
        venue.wait()


if __name__ == "__main__":
    main()
