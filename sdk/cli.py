"""The ``xfeeds`` command: watch or record a feed, replay a recording or export it for research,
tail Redis Streams, show a trading account and send orders, run a simulator, show the offline demo."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import logging
import math
import os
import signal
import socket
import sys
import threading
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, NoReturn

import anyio
import anyio.from_thread
import anyio.lowlevel
import msgspec

import sdk
from schemas.events import SubscriptionError
from schemas.jsonschema import SCHEMA_PATH, TRADING_SCHEMA_PATH, render, render_trading, write
from schemas.subscription import Subscription
from schemas.trading import AccountReady, OrderRequest
from sdk import registry, subscriptions
from sdk.account import Account
from sdk.account_session import AccountEvent
from sdk.contract import Adapter
from sdk.credentials import Credentials
from sdk.errors import AccountNotReady, OutcomeUnknown, RateLimited, RequestRejected, sole_error
from sdk.feed import Feed
from sdk.pretrade import check_order
from sdk.reconnect import ReconnectPolicy
from sdk.render import describe, describe_order
from sdk.simulation.venue import TradingVenue
from sdk.subscriptions import CHANNELS, DEFAULT_DEPTH, DEFAULT_INTERVAL
from sdk.trading_contract import TokenRequestFailed
from sdk.transport import InsecureURL

if TYPE_CHECKING:
    from sdk.export import ExportResult
    from sdk.simulation.simulator import Simulator

USAGE_ERRORS: tuple[type[Exception], ...] = (LookupError, ValueError, OSError, TokenRequestFailed)
"""What the user can fix (a name, a number, an endpoint, a key): one line on stderr and exit 2."""
REQUEST_FAILURES: tuple[type[Exception], ...] = (RequestRejected, OutcomeUnknown, AccountNotReady, RateLimited)
"""A trading request the venue refused, or that could not be sent or settled now: exit 1."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "symbols", None) == [] and not any(arg.startswith("-") for arg in extra):
        args.symbols = extra  # SYMBOLs after an option: argparse gave the optional list nothing before it
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except BaseExceptionGroup as group:
        if group.subgroup(BrokenPipeError) is not None:
            return _reader_gone()
        # an error raised inside a simulator's task group arrives wrapped by it
        error = sole_error(group) if isinstance(group, ExceptionGroup) else group
        if not isinstance(error, USAGE_ERRORS):
            raise
        return _usage_error(error)
    except USAGE_ERRORS as exc:
        return _usage_error(exc)
    return code


def _reader_gone() -> int:
    """The reader (``| head``) went away: a normal end; silence the final flush too."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _usage_error(error: Exception) -> int:
    if isinstance(error, InsecureURL):  # worded for the command line, where the guard is an option
        error = InsecureURL(error.url, "use wss://, or pass --allow-plaintext")
    print(f"xfeeds: {error}", file=sys.stderr)
    return 2


class _Parser(argparse.ArgumentParser):
    """A usage error in one line that names the command and where its options are listed
    (argparse would print the whole usage first), with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xfeeds", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xfeeds {_version()}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    watch = commands.add_parser(
        "watch",
        help="print normalized events from an exchange",
        description="Print every event of the subscriptions, one readable line each (or JSON, or a live "
        "view of a book). Exit status 1 once the exchange refused every subscription.",
    )
    _add_stream_arguments(watch, simulate="run the exchange's simulator in-process and watch it")
    watch.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="allow an unencrypted ws:// URL to another machine (default: refused)",
    )
    output = watch.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON object per line (default: readable lines)")
    output.add_argument(
        "--live",
        action="store_true",
        help="full-screen ladder of one book, its trades, the message rate and the connection (book only; "
        "needs the view extra: pip install 'xfeeds[view]')",
    )
    watch.add_argument("--count", metavar="N", type=_count, help="stop after this many events (default: no limit)")
    watch.add_argument("--seconds", metavar="S", type=_seconds, help="stop after this many seconds (default: Ctrl-C)")
    watch.set_defaults(run=_watch)

    _add_recording_parsers(commands)
    _add_account_parser(commands)
    _add_collect_parser(commands)

    tail = commands.add_parser(
        "tail",
        help="print the events of Redis Streams, read in a consumer group",
        description="Print the events collectors published into Redis Streams, as watch prints a feed's, "
        "reading as one consumer of a group: each event goes to one consumer of the group, and what was "
        "printed is acknowledged (Ctrl-C acknowledges the last events printed and exits). Needs the redis "
        "extra: pip install 'xfeeds[redis]'.",
    )
    tail.add_argument("redis_url", metavar="REDIS_URL", type=_redis_url, help="e.g. redis://10.0.0.5:6379/0")
    tail.add_argument("--group", required=True, metavar="G", help="consumer group (created where missing)")
    tail.add_argument("--consumer", metavar="C", help="this reader's name in the group (default: host:pid)")
    tail.add_argument("--prefix", default="xfeeds", metavar="P", help="stream name prefix (default xfeeds)")
    tail.add_argument(
        "--stream", action="append", metavar="S", help="a stream to read, repeatable (default: every one under P)"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object per line (default: readable lines)")
    tail.set_defaults(run=_tail)

    simulate = commands.add_parser(
        "simulate",
        help="serve an exchange simulator on loopback",
        description="Serve an exchange simulator on 127.0.0.1, logging each connection, what its client "
        "sends (subscriptions) and its end.",
    )
    simulate.add_argument("exchange", metavar="EXCHANGE", help=f"adapter name: {', '.join(registry.names())}")
    simulate.add_argument("--port", type=_port, default=8765, help="TCP port, 0 for any free one (default 8765)")
    simulate.add_argument("--seed", type=int, default=1, help="seed of the synthetic market (default 1)")
    simulate.add_argument("--tick", type=_seconds, default=0.05, help="seconds between market steps (default 0.05)")
    simulate.set_defaults(run=_simulate)

    demo = commands.add_parser("demo", help="offline showcase against the local simulator")
    demo.add_argument("--exchange", default="kraken", help="adapter to show (default kraken)")
    demo.add_argument("--seconds", type=_seconds, default=6.0, help="how long to stream (default 6)")
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


def _version() -> str:
    try:
        return importlib.metadata.version("xfeeds")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _count(text: str) -> int:
    """A positive whole number (of events, of levels)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    return _positive(text, "a positive number of seconds")


def _speed(text: str) -> float:
    """A positive, finite factor of the recorded pace."""
    return _positive(text, "a positive speed (1 is the recorded pace)")


def _positive(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 0 to 65535, got {text!r}")
    return value


def _url(text: str, schemes: tuple[str, ...]) -> str:
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise argparse.ArgumentTypeError(f"{text!r} is not a {wanted} URL, e.g. {schemes[-1]}://host/path")
    return text


def _redis_url(text: str) -> str:
    return _url(text, ("redis", "rediss"))


def _websocket_url(text: str) -> str:
    return _url(text, ("ws", "wss"))


def _http_url(text: str) -> str:
    return _url(text, ("http", "https"))


def _requests(args: argparse.Namespace) -> list[Subscription]:
    """The subscriptions ``watch`` or ``record`` asks for; ValueError for options that do not apply
    to the channel."""
    channel = args.channel
    if args.depth is not None and channel != "book":
        raise ValueError(f"--depth applies to the book channel, not {channel}")
    if args.interval is not None and channel != "candles":
        raise ValueError(f"--interval applies to the candles channel, not {channel}")
    live = getattr(args, "live", False)  # watch's option; record has none
    if live and channel != "book":
        raise ValueError(f"--live shows a book: use it with the book channel, not {channel}")
    if live and len(args.symbols) != 1:
        raise ValueError("--live shows one book: name one SYMBOL")
    return subscriptions.of_channel(channel, args.symbols, depth=args.depth, interval=args.interval)


@asynccontextmanager
async def _endpoint(exchange: str, url: str | None, simulate: bool, tick: float) -> AsyncIterator[str | None]:
    """The URL to connect to: the simulator's when asked for, else ``url`` (None = default)."""
    if not simulate:
        yield url
        return
    async with registry.get(exchange).make_simulator(tick_interval=tick) as simulator:
        yield simulator.url


def _watch(args: argparse.Namespace) -> int:
    requests = _requests(args)
    adapter = registry.get(args.exchange)
    for request in requests:
        adapter.check(request)
    if args.live:
        return _watch_live(args, adapter, requests[0])
    encoder = msgspec.json.Encoder()

    async def run() -> int:
        async with (
            _endpoint(args.exchange, args.url, args.simulate, 0.05) as url,
            Feed(adapter, url, allow_plaintext=args.allow_plaintext) as feed,
        ):
            await feed.subscribe(*requests)
            with anyio.move_on_after(args.seconds):
                seen = 0
                async for event in feed:
                    line = encoder.encode(event).decode() if args.json else describe(event)
                    print(line, flush=True)
                    seen += 1
                    if isinstance(event, SubscriptionError) and feed.all_refused(requests):
                        print(f"xfeeds: {adapter.name} refused every subscription", file=sys.stderr)
                        return 1
                    if args.count is not None and seen >= args.count:
                        break
        return 0

    return anyio.run(run)


def _watch_live(args: argparse.Namespace, adapter: Adapter, book: Subscription) -> int:
    """The full-screen view of one book, with its symbol's trades subscribed alongside when served."""
    try:
        from sdk.view import watch_live  # noqa: PLC0415 - rich is an optional extra
    except ImportError as missing:
        raise LookupError(f"--live needs rich ({missing}): pip install 'xfeeds[view]'") from None
    trades = subscriptions.trades(book.symbol)
    requests = [book, trades] if "trades" in adapter.capabilities.channels else [book]

    async def run() -> int:
        async with (
            _endpoint(args.exchange, args.url, args.simulate, 0.05) as url,
            Feed(adapter, url, allow_plaintext=args.allow_plaintext) as feed,
        ):
            await feed.subscribe(*requests)
            refused = await watch_live(feed, book, requests, seconds=args.seconds, count=args.count)
        if refused:
            print(f"xfeeds: {adapter.name} refused every subscription", file=sys.stderr)
            return 1
        return 0

    return anyio.run(run)


def _plot(args: argparse.Namespace) -> int:
    """The chart of one symbol, drawn while the recording is replayed (never held in memory whole)."""
    try:
        from sdk.plot import ChartData, draw  # noqa: PLC0415 - matplotlib is an optional extra
    except ImportError as missing:
        raise LookupError(f"plot needs matplotlib ({missing}): pip install 'xfeeds[plot]'") from None
    from sdk import replay  # noqa: PLC0415  # only this command needs it

    data = ChartData(subscriptions.normalize_symbol(args.symbol))

    async def read() -> None:
        async with replay(args.files) as recording:
            async for event in recording:
                data.add(event)

    anyio.run(read)
    draw(data, args.out)
    print(f"wrote {args.out}: {data.symbol}, {len(data.samples)} book states, {len(data.trades)} trades", flush=True)
    return 0


def _record(args: argparse.Namespace) -> int:
    requests = _requests(args)
    adapter = registry.get(args.exchange)
    for request in requests:
        adapter.check(request)
    recorder = sdk.Recorder(args.out)

    async def progress(feed: Feed) -> None:
        """Redrawn in place on a terminal (cleared to the line's end); elsewhere only the last line."""
        if not sys.stderr.isatty():
            return
        started = anyio.current_time()
        while True:
            await anyio.sleep(0.5)
            line = _progress(feed, recorder, anyio.current_time() - started)
            print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)

    async def run() -> None:
        async with (
            _endpoint(args.exchange, args.url, args.simulate, 0.05) as url,
            Feed(adapter, url, record=recorder) as feed,
        ):
            await feed.subscribe(*requests)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(progress, feed)
                with anyio.move_on_after(args.seconds):
                    async for _ in feed:  # read, so the feed never waits for a consumer
                        pass
                tasks.cancel_scope.cancel()
        last = _progress(feed, recorder, None)
        print(f"\r{last}\x1b[K" if sys.stderr.isatty() else last, file=sys.stderr)

    anyio.run(run)
    return 0


def _progress(feed: Feed, recorder: sdk.Recorder, seconds: float | None) -> str:
    """``1,234 frames  56,789 B  246/s  kraken-2026….jsonl.zst``: how a recording goes."""
    frames = feed.stats.frames
    rate = f"  {frames / seconds:,.0f} frames/s" if seconds else ""
    lost = f"  {recorder.lost:,} lost" if recorder.lost else ""
    where = recorder.file or (recorder.files[-1] if recorder.files else recorder.directory)
    return f"{frames:,} frames  {recorder.bytes:,} B{rate}{lost}  {where}"


def _replay(args: argparse.Namespace) -> int:
    encoder = msgspec.json.Encoder()

    async def run() -> None:
        async with sdk.replay(args.files, speed=args.speed) as source:
            async for event in source:
                print(encoder.encode(event).decode() if args.json else describe(event), flush=args.speed is not None)

    anyio.run(run)
    return 0


def _tail(args: argparse.Namespace) -> int:
    """Print every batch whole before asking for the next: asking acknowledges what was printed."""
    try:
        from sdk.fanout.reader import stream  # noqa: PLC0415 - redis-py is an optional extra
    except ImportError as missing:
        raise LookupError(f"tail needs redis-py ({missing}): pip install 'xfeeds[redis]'") from None
    encoder = msgspec.json.Encoder()
    consumer = args.consumer or f"{socket.gethostname()}:{os.getpid()}"

    async def run() -> None:
        async with (
            anyio.create_task_group() as tasks,
            stream(args.redis_url, args.group, consumer, streams=args.stream, prefix=args.prefix) as reader,
        ):
            tasks.start_soon(_cancel_on_interrupt, tasks.cancel_scope)
            while True:
                lines = [
                    encoder.encode(event).decode() if args.json else describe(event)
                    for event in await reader.next_batch()
                ]
                print("\n".join(lines), flush=True)

    anyio.run(run)
    return 0


async def _cancel_on_interrupt(scope: anyio.CancelScope) -> None:
    """Ctrl-C cancels ``scope``: unlike the one native cancellation asyncio sends the main task, a
    cancelled scope stays cancelled until left, whatever a client library does with one cancellation."""
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        async for _ in signals:
            scope.cancel()
            return


def credentials_prefix(exchange: str) -> str:
    """``XFEEDS_KRAKEN`` for ``kraken``: the environment holds ``{prefix}_KEY`` and ``{prefix}_SECRET``."""
    return f"XFEEDS_{exchange.upper().replace('-', '_')}"


def _add_stream_arguments(command: argparse.ArgumentParser, *, simulate: str) -> None:
    """What ``watch`` and ``record`` both take: the exchange, one channel's subscriptions, the endpoint."""
    command.add_argument("exchange", metavar="EXCHANGE", help=f"adapter name: {', '.join(registry.names())}")
    command.add_argument("channel", metavar="CHANNEL", choices=CHANNELS, help=f"one of {', '.join(CHANNELS)}")
    command.add_argument(
        "symbols", nargs="*", metavar="SYMBOL", help="e.g. BTC/USD; one or more, none for instruments (every pair)"
    )
    command.add_argument(
        "--depth", metavar="N", type=_count, help=f"book levels a side (book only; default {DEFAULT_DEPTH})"
    )
    command.add_argument("--interval", metavar="I", help=f"candle interval (candles only; default {DEFAULT_INTERVAL})")
    where = command.add_mutually_exclusive_group()
    where.add_argument(
        "--url", metavar="URL", type=_websocket_url, help="ws:// or wss:// endpoint (default: the exchange's)"
    )
    where.add_argument("--simulate", action="store_true", help=simulate)


def _add_recording_parsers(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``record``, ``replay`` and ``export``: what is kept of a feed, and what is made of it."""
    record = commands.add_parser("record", help="record an exchange's raw frames for replay")
    _add_stream_arguments(record, simulate="record the exchange's simulator, run in-process")
    record.add_argument("--out", required=True, metavar="DIR", help="directory to write the recording into")
    record.add_argument("--seconds", metavar="S", type=_seconds, help="stop after this many seconds (default: Ctrl-C)")
    record.set_defaults(run=_record)

    replay = commands.add_parser("replay", help="replay a recording: the events the live feed delivered")
    replay.add_argument("files", nargs="+", metavar="FILE", help="recording files, or directories of them")
    replay.add_argument(
        "--speed", metavar="N", type=_speed, help="recorded pace times this (default: as fast as possible)"
    )
    replay.add_argument("--json", action="store_true", help="one JSON object per line")
    replay.set_defaults(run=_replay)

    export = commands.add_parser(
        "export",
        help="export recordings' events to Parquet or CSV for research",
        description="Replay recordings and write their market data to OUT/<exchange>/<channel>/<YYYY-MM-DD>.parquet "
        "(exact decimals, ns times; needs the parquet extra) or .csv.gz (tardis' CSV columns).",
    )
    export.add_argument("files", nargs="+", metavar="FILE", help="recording files, replayed in order")
    export.add_argument("--to", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    export.add_argument("--out", metavar="DIR", required=True, help="folder to write the files under")
    export.set_defaults(run=_export)

    plot = commands.add_parser(
        "plot",
        help="chart one symbol of a recording",
        description="Draw the mid price with the trades, the spread, and the book depth as a heatmap, over "
        "the receive time, from recorded files (needs the plot extra: pip install 'xfeeds[plot]').",
    )
    plot.add_argument("files", nargs="+", metavar="FILE", help="recording files, in the order they were written")
    plot.add_argument("--symbol", metavar="S", required=True, help="the symbol to chart, e.g. BTC/USD")
    plot.add_argument(
        "--out", metavar="PATH", default="chart.png", help="image to write; .png, .svg or .pdf (default chart.png)"
    )
    plot.set_defaults(run=_plot)


def _add_account_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    account = commands.add_parser(
        "account",
        help="show a trading account, or place and cancel orders",
        description="Without ACTION: print the balances and open orders, then stream the account's events. "
        "Credentials come from XFEEDS_<EXCHANGE>_KEY and XFEEDS_<EXCHANGE>_SECRET (not needed with --simulate).",
    )
    account.add_argument("exchange", metavar="EXCHANGE", help=f"adapter name: {', '.join(registry.names())}")
    _add_endpoint_options(account, inherited=False)
    account.add_argument(
        "--seconds", metavar="N", type=float, help="stop streaming after this many seconds (default: Ctrl-C)"
    )
    account.add_argument("--json", action="store_true", help="one JSON object per line")
    account.set_defaults(run=_account_show)
    actions = account.add_subparsers(metavar="ACTION", required=False)

    place = actions.add_parser("place", help="place one order, after asking")
    place.add_argument("side", metavar="SIDE", choices=("buy", "sell"), help="buy or sell")
    place.add_argument("qty", metavar="QTY", type=_decimal, help="quantity in the base asset")
    place.add_argument("symbol", metavar="SYMBOL", help="e.g. BTC/USD")
    place.add_argument("--price", metavar="P", type=_decimal, help="limit price (makes the order a limit order)")
    place.add_argument("--type", choices=("limit", "market"), help="default: limit with --price, else market")
    place.add_argument("--tif", choices=("gtc", "ioc", "fok"), default="gtc", help="time in force (default gtc)")
    place.add_argument("--post-only", action="store_true", help="only rest on the book, never take")
    place.add_argument("--client-id", metavar="ID", help="your own id for the order (default: a fresh one)")
    place.add_argument("--validate", action="store_true", help="have the venue check the order and place nothing")
    place.set_defaults(run=_account_place)

    cancel = actions.add_parser("cancel", help="cancel orders by the venue's ids, after asking")
    cancel.add_argument("order_ids", nargs="+", metavar="ORDER_ID", help="the venue's order id, one or more")
    cancel.set_defaults(run=_account_cancel)

    cancel_all = actions.add_parser("cancel-all", help="cancel every open order, after asking")
    cancel_all.set_defaults(run=_account_cancel_all)

    for action in (place, cancel, cancel_all):
        _add_endpoint_options(action, inherited=True)
        action.add_argument("--yes", action="store_true", help="do not ask before sending (for scripts)")


def _add_endpoint_options(parser: argparse.ArgumentParser, *, inherited: bool) -> None:
    """Where to connect, accepted before the action and after it; an action's parser leaves unset
    what was given before it (argparse would otherwise reset it to the default)."""
    unset = argparse.SUPPRESS if inherited else None
    parser.add_argument(
        "--url",
        metavar="URL",
        type=_websocket_url,
        default=unset,
        help="authenticated ws:// or wss:// endpoint (default: the exchange's)",
    )
    parser.add_argument(
        "--rest-url",
        metavar="URL",
        type=_http_url,
        default=unset,
        help="http(s):// REST base for session tokens (default: the exchange's)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        default=argparse.SUPPRESS if inherited else False,
        help="trade on the exchange's simulator, run in-process (default: the real exchange)",
    )


def _add_collect_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    collect = commands.add_parser(
        "collect",
        help="publish the subscriptions of a fleet file into Redis streams, one process per shard",
        description="Split the fleet file's subscriptions into its shards and run one collector process per "
        "shard, each publishing its feeds' events into Redis streams; a collector that crashes is started "
        "again. Run the same file on two machines and each event is still stored once. Needs the redis "
        "extra: pip install 'xfeeds[redis]'.",
    )
    collect.add_argument("--config", metavar="FILE", required=True, help="the fleet file (TOML)")
    collect.add_argument(
        "--shard",
        metavar="N",
        type=int,
        action="append",
        dest="shards",
        help="run only shard N (from 0; repeat for several; default: every shard)",
    )
    collect.add_argument(
        "--simulate", action="store_true", help="connect each feed to its exchange's simulator, run locally"
    )
    host = socket.gethostname()
    collect.add_argument(
        "--host", metavar="NAME", default=host, help=f"this machine's name in control entries (default {host})"
    )
    collect.add_argument("--only-shard", type=int, help=argparse.SUPPRESS)  # one collector, in this process
    collect.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # the supervisor's pid
    collect.set_defaults(run=_collect)


def _collect(args: argparse.Namespace) -> int:
    """The supervisor of the selected shards' collectors, or (``--only-shard``) one collector."""
    from sdk.fanout.fleet import load_fleet  # noqa: PLC0415  # only this command needs it

    fleet = load_fleet(args.config)
    selected = [args.only_shard] if args.only_shard is not None else args.shards or range(len(fleet.shards))
    for index in selected:
        if not 0 <= index < len(fleet.shards):
            raise ValueError(f"{args.config} has shards 0 to {len(fleet.shards) - 1}, not {index}")
    log = logging.getLogger("xfeeds.collect")
    log.setLevel(logging.INFO)
    shown = logging.StreamHandler(sys.stderr)
    shown.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(shown)
    log.propagate = False
    if args.only_shard is not None:
        from sdk.fanout.collector import collect_shard  # noqa: PLC0415  # needs the redis extra

        name = f"{args.host}/{args.only_shard}"
        shard = fleet.shards[args.only_shard]
        anyio.run(lambda: collect_shard(fleet, shard, collector=name, simulate=args.simulate, parent=args.parent))
        return 0
    from sdk.fanout.supervisor import Supervisor  # noqa: PLC0415

    config = os.path.abspath(args.config)
    child = [sys.executable, "-m", "sdk.cli", "collect", "--config", config, "--host", args.host]
    child += ["--parent", str(os.getpid())]
    child += ["--simulate"] if args.simulate else []
    commands = {index: [*child, "--only-shard", str(index)] for index in dict.fromkeys(selected)}
    return Supervisor(commands).run()


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


@asynccontextmanager
async def _account(args: argparse.Namespace) -> AsyncIterator[Account]:
    """The account ``args`` names, ready: the simulator's test account under ``--simulate``, else
    the one whose credentials the environment holds, at ``--url``/``--rest-url`` or the venue's."""
    adapter = registry.get(args.exchange)
    if adapter.trading is None:
        raise LookupError(f"{adapter.name} does not trade (market data only)")
    if args.simulate and (args.url or args.rest_url):
        raise ValueError("--simulate trades on its own simulator: leave out --url and --rest-url")
    if not args.simulate:
        credentials = Credentials.from_env(credentials_prefix(adapter.name))
        async with sdk.account(adapter, credentials, args.url, args.rest_url) as account:
            yield account
        return
    async with adapter.make_simulator(tick_interval=0.05) as simulator:
        if not isinstance(simulator, TradingVenue):
            raise LookupError(f"the {adapter.name} simulator does not trade")
        async with sdk.account(adapter, simulator.credentials, simulator.auth_url, simulator.rest_url) as account:
            yield account


def _on_account(args: argparse.Namespace, work: Callable[[Account], Awaitable[int]]) -> int:
    async def run() -> int:
        async with _account(args) as account:
            return await work(account)

    return anyio.run(run)


async def _confirmed(question: str, assume_yes: bool) -> bool:
    """Whether the user answers y or yes to ``question`` on stdin."""
    if assume_yes:
        return True
    print(f"{question} [y/N] ", end="", flush=True)
    answer = await _read_line()
    if not sys.stdin.isatty():
        print(answer.strip(), flush=True)  # a terminal echoes the answer; a pipe does not
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing sent", flush=True)
    return False


async def _read_line() -> str:
    """A line of stdin, read on a daemon thread while the account's socket keeps being served: a
    worker thread blocked in ``readline`` would keep the process alive after Ctrl-C."""
    line: list[str] = []
    read = anyio.Event()
    loop = anyio.lowlevel.current_token()

    def read_line() -> None:
        line.append(sys.stdin.readline())
        with contextlib.suppress(anyio.RunFinishedError):
            anyio.from_thread.run_sync(read.set, token=loop)

    threading.Thread(target=read_line, name="xfeeds stdin", daemon=True).start()
    await read.wait()
    return line[0]


def _request_failed(error: Exception) -> int:
    print(f"xfeeds: {error}", file=sys.stderr)
    return 1


def _account_show(args: argparse.Namespace) -> int:
    """Balances and open orders as the account holds them once ready, then every event after."""
    encoder = msgspec.json.Encoder()

    def emit(event: AccountEvent) -> None:
        print(encoder.encode(event).decode() if args.json else describe(event), flush=True)

    def note(text: str) -> None:
        if not args.json:
            print(f"# {text}", flush=True)

    async def show(account: Account) -> int:
        balances = sorted(
            (b for b in account.balances.values() if b.total != 0), key=lambda b: (b.asset, b.wallet or "")
        )
        note(f"{account.adapter.name} account at {account.url}: {len(balances)} non-zero balances")
        for balance in balances:
            emit(balance)
        note(f"{len(account.open_orders)} open orders")
        for order in account.open_orders.values():
            emit(order)
        note("streaming order updates, fills and balances" + (f" for {args.seconds:g} s" if args.seconds else ""))
        with anyio.move_on_after(args.seconds):
            caught_up = False  # the events up to the first AccountReady are what was just shown
            async for event in account:
                caught_up = caught_up or isinstance(event, AccountReady)
                if caught_up:
                    emit(event)
        return 0

    return _on_account(args, show)


def _account_place(args: argparse.Namespace) -> int:
    order = OrderRequest(
        symbol=args.symbol,
        side=args.side,
        order_type=args.type or ("limit" if args.price is not None else "market"),
        qty=args.qty,
        price=args.price,
        time_in_force=args.tif,
        post_only=args.post_only,
        client_order_id=args.client_id,
        validate_only=args.validate,
    )

    async def place(account: Account) -> int:
        check_order(order, account.instruments.get(order.symbol))
        print(f"order: {describe_order(order)}", flush=True)
        if not await _confirmed(f"Send this order to {account.adapter.name} at {account.url}?", args.yes):
            return 1
        try:
            update = await account.place(order)
        except REQUEST_FAILURES as error:
            return _request_failed(error)
        print(describe(update), flush=True)
        return 1 if update.state in ("rejected", "unknown") else 0

    return _on_account(args, place)


def _account_cancel(args: argparse.Namespace) -> int:
    async def cancel(account: Account) -> int:
        for order_id in args.order_ids:
            order = account.open_orders.get(order_id)
            print(f"{order_id}: {describe(order) if order is not None else 'not among the open orders'}", flush=True)
        question = f"Cancel {len(args.order_ids)} order(s) on {account.adapter.name} at {account.url}?"
        if not await _confirmed(question, args.yes):
            return 1
        try:
            await account.cancel(*args.order_ids)
        except REQUEST_FAILURES as error:
            return _request_failed(error)
        print(f"{account.adapter.name} accepted the cancel of {', '.join(args.order_ids)}", flush=True)
        return 0

    return _on_account(args, cancel)


def _account_cancel_all(args: argparse.Namespace) -> int:
    async def cancel_all(account: Account) -> int:
        for order in account.open_orders.values():
            print(describe(order), flush=True)
        question = f"Cancel all {len(account.open_orders)} open orders on {account.adapter.name} at {account.url}?"
        if not await _confirmed(question, args.yes):
            return 1
        try:
            count = await account.cancel_all()
        except REQUEST_FAILURES as error:
            return _request_failed(error)
        print(f"{account.adapter.name} cancelled {count} orders", flush=True)
        return 0

    return _on_account(args, cancel_all)


def _export(args: argparse.Namespace) -> int:
    """Replays the recordings through the exporter, with a progress bar; prints what was written."""
    from sdk import replay  # noqa: PLC0415  # only this command needs it
    from sdk.export import export  # noqa: PLC0415  # only this command needs it
    from sdk.export.progress import progress_bar  # noqa: PLC0415

    async def run() -> ExportResult:
        with progress_bar() as report:
            async with replay(args.files) as events:
                return await export(events, args.out, to=args.to, progress=report)

    result = anyio.run(run)
    for file in result.files:
        print(f"{file.path}  {file.rows:,} rows")
    for (exchange, symbol), count in sorted(result.skipped_updates.items()):
        print(f"# {exchange} {symbol}: {count:,} book updates before a snapshot not written")
    print(f"# {result.events:,} events, {result.rows:,} rows in {len(result.files)} files")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    simulator = registry.get(args.exchange).make_simulator(port=args.port, seed=args.seed, tick_interval=args.tick)

    log = logging.getLogger("xfeeds.simulator")
    log.setLevel(logging.INFO)
    shown = logging.StreamHandler(sys.stdout)
    shown.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(shown)

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
