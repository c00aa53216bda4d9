"""The ``xfeeds`` command: watch a feed, run a simulator, show the offline demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import msgspec

from schemas.jsonschema import SCHEMA_PATH, TRADING_SCHEMA_PATH, render, render_trading, write
from schemas.subscription import Subscription
from sdk import registry, subscriptions
from sdk.feed import Feed
from sdk.reconnect import ReconnectPolicy
from sdk.render import describe

if TYPE_CHECKING:
    from sdk.simulation.simulator import Simulator

CHANNELS = ("trades", "book", "ticker", "quotes", "candles")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BaseExceptionGroup as group:
        if group.subgroup(BrokenPipeError) is None:
            raise
        # the reader (``| head``) went away: a normal end; silence the final flush too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (LookupError, ValueError, OSError) as exc:
        print(f"xfeeds: {exc}", file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xfeeds", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    watch = commands.add_parser("watch", help="print normalized events from an exchange")
    watch.add_argument("exchange", help=f"adapter name: {', '.join(registry.names())}")
    watch.add_argument("channel", choices=CHANNELS)
    watch.add_argument("symbols", nargs="+", metavar="SYMBOL", help="e.g. BTC/USD")
    watch.add_argument("--depth", type=int, default=10, help="book depth (default 10)")
    watch.add_argument("--interval", default="1m", help="candle interval (default 1m)")
    watch.add_argument("--url", help="endpoint to use instead of the exchange's")
    watch.add_argument("--simulate", action="store_true", help="run the exchange's simulator in-process")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument("--count", type=int, help="stop after this many events")
    watch.add_argument("--seconds", type=float, help="stop after this many seconds")
    watch.set_defaults(run=_watch)

    simulate = commands.add_parser("simulate", help="serve an exchange simulator on loopback")
    simulate.add_argument("exchange")
    simulate.add_argument("--port", type=int, default=8765)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--tick", type=float, default=0.05, help="seconds between market steps")
    simulate.set_defaults(run=_simulate)

    demo = commands.add_parser("demo", help="offline showcase against the local simulator")
    demo.add_argument("--exchange", default="kraken")
    demo.add_argument("--seconds", type=float, default=6.0)
    demo.set_defaults(run=_demo)

    schema = commands.add_parser("schema", help="print or write the JSON Schemas of the events")
    schema.add_argument("--trading", action="store_true", help="print the trading schema instead of the market one")
    schema.add_argument(
        "--write", action="store_true", help=f"write both to {SCHEMA_PATH.name} and {TRADING_SCHEMA_PATH.name}"
    )
    schema.set_defaults(run=_schema)

    listing = commands.add_parser("adapters", help="list the available exchanges and channels")
    listing.set_defaults(run=_adapters)
    return parser


def _subscription(channel: str, symbol: str, depth: int, interval: str) -> Subscription:
    if channel == "book":
        return subscriptions.book(symbol, depth)
    if channel == "candles":
        return subscriptions.candles(symbol, interval)
    builders = {
        "trades": subscriptions.trades,
        "ticker": subscriptions.ticker,
        "quotes": subscriptions.quotes,
    }
    return builders[channel](symbol)


@asynccontextmanager
async def _endpoint(exchange: str, url: str | None, simulate: bool, tick: float) -> AsyncIterator[str | None]:
    """The URL to connect to: the simulator's when asked for, else ``url`` (None = default)."""
    if not simulate:
        yield url
        return
    async with registry.get(exchange).make_simulator(tick_interval=tick) as simulator:
        yield simulator.url


def _watch(args: argparse.Namespace) -> int:
    requests = [_subscription(args.channel, s, args.depth, args.interval) for s in args.symbols]
    adapter = registry.get(args.exchange)
    for request in requests:
        adapter.check(request)
    encoder = msgspec.json.Encoder()

    async def run() -> None:
        async with _endpoint(args.exchange, args.url, args.simulate, 0.05) as url, Feed(adapter, url) as feed:
            await feed.subscribe(*requests)
            with anyio.move_on_after(args.seconds):
                seen = 0
                async for event in feed:
                    line = encoder.encode(event).decode() if args.json else describe(event)
                    print(line, flush=True)
                    seen += 1
                    if args.count is not None and seen >= args.count:
                        break

    anyio.run(run)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    simulator = registry.get(args.exchange).make_simulator(port=args.port, seed=args.seed, tick_interval=args.tick)

    async def run() -> None:
        async with simulator:
            print(f"{args.exchange} simulator listening on {simulator.url} (Ctrl-C stops it)", flush=True)
            for line in simulator.banner:
                print(f"  {line}", flush=True)
            await anyio.sleep_forever()

    anyio.run(run)
    return 0


def _demo(args: argparse.Namespace) -> int:
    """Several channels and symbols, one refused pair, and a dropped connection recovered."""
    adapter = registry.get(args.exchange)
    wanted = [
        subscriptions.trades("BTC/USD"),
        subscriptions.book("BTC/USD", depth=10),
        subscriptions.quotes("ETH/USD"),
        subscriptions.ticker("SOL/USD"),
        subscriptions.candles("BTC/USD", "1m"),
        subscriptions.trades("NOPE/USD"),
    ]
    requests = [s for s in wanted if s.channel in adapter.capabilities.channels]

    async def run() -> None:
        async with adapter.make_simulator(tick_interval=0.25) as simulator:
            print(f"# {adapter.name} simulator on {simulator.url}; streaming for {args.seconds:g} s", flush=True)
            policy = ReconnectPolicy(initial=0.2)
            async with Feed(adapter, simulator.url, reconnect=policy) as feed:
                await feed.subscribe(*requests)
                async with anyio.create_task_group() as group:
                    group.start_soon(_drop_midway, simulator, args.seconds / 2)
                    with anyio.move_on_after(args.seconds):
                        async for event in feed:
                            print(describe(event), flush=True)
                    group.cancel_scope.cancel()
                stats = feed.stats
                print(
                    f"# {stats.events} events from {stats.frames} frames; {stats.subscription_errors} "
                    f"refused, {stats.errors} errors, {stats.reconnects} reconnects",
                    flush=True,
                )

    anyio.run(run)
    return 0


async def _drop_midway(simulator: Simulator, delay: float) -> None:
    await anyio.sleep(delay)
    print("# the simulator drops every connection now; the feed reconnects and resubscribes", flush=True)
    await simulator.drop_connections()


def _schema(args: argparse.Namespace) -> int:
    if args.write:
        for path in write():
            print(f"wrote {path}")
    else:
        print(render_trading() if args.trading else render(), end="")
    return 0


def _adapters(args: argparse.Namespace) -> int:
    for name in registry.names():
        adapter = registry.get(name)
        capabilities = adapter.capabilities
        print(f"{name:<12} {adapter.default_url}")
        print(f"{'':<12} channels: {', '.join(sorted(capabilities.channels))}")
        if capabilities.book_depths:
            print(f"{'':<12} book depths: {', '.join(map(str, capabilities.book_depths))}")
        if capabilities.candle_intervals:
            print(f"{'':<12} candle intervals: {', '.join(capabilities.candle_intervals)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
