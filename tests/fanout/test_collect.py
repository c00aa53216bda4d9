"""Fleet files and ``xfeeds collect``: the split into shards, every way a file can be wrong, and
supervised collector processes publishing into a real Redis server on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import BookSnapshot, BookUpdate, Trade
from sdk.fanout.entries import EntryCodec
from sdk.fanout.fleet import FleetError, load_fleet, parse_fleet
from sdk.identity import event_key

PROJECT = Path(__file__).resolve().parents[2]

GOOD = """\
redis = "redis://127.0.0.1:6379/0"
prefix = "desk"
shards = 2

[[feed]]
exchange = "kraken"
subscriptions_per_connection = 2

[[feed.subscribe]]
channel = "trades"
symbols = ["BTC/USD", "ETH/USD"]

[[feed.subscribe]]
channel = "book"
symbols = ["BTC/USD"]
depth = 25

[[feed]]
exchange = "kraken-v1"
url = "wss://example.com/ws"

[[feed.subscribe]]
channel = "candles"
symbols = ["BTC/USD"]
interval = "5m"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_a_good_file_gives_balanced_shards_of_its_feeds(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, GOOD))
    assert (fleet.redis, fleet.prefix) == ("redis://127.0.0.1:6379/0", "desk")
    shares = [
        [(f.exchange, f.url, f.subscriptions_per_connection, list(map(str, f.subscriptions))) for f in s.feeds]
        for s in fleet.shards
    ]
    assert shares == [
        [("kraken", None, 2, ["book:BTC/USD@25", "trades:BTC/USD"])],
        [("kraken", None, 2, ["trades:ETH/USD"]), ("kraken-v1", "wss://example.com/ws", None, ["candles:BTC/USD@5m"])],
    ]
    assert [shard.index for shard in fleet.shards] == [0, 1]


BAD = {
    "not TOML": ('redis = "x\n', "not valid TOML: "),
    "no redis": (
        "[[feed]]\nexchange='kraken'\nsubscribe=[{channel='trades', symbols=['BTC/USD']}]\n",
        "missing required field `redis`",
    ),
    "no feed": ('redis = "redis://h/0"\n', "missing required field `feed`"),
    "empty feed list": ('redis = "redis://h/0"\nfeed = []\n', "feed: the fleet needs at least one [[feed]]"),
    "unknown key": (
        GOOD.replace("depth = 25", "deep = 25"),
        "feed[0].subscribe[1]: Object contains unknown field `deep`",
    ),
    "wrong type": (
        GOOD.replace("depth = 25", 'depth = "25"'),
        "feed[0].subscribe[1].depth: Expected `int | null`, got `str`",
    ),
    "no shards": (GOOD.replace("shards = 2", "shards = 0"), "shards: expected a positive whole number, got 0"),
    "too many shards": (GOOD.replace("shards = 2", "shards = 5"), "shards: 5 shards for 4 subscriptions"),
    "bad prefix": (GOOD.replace('"desk"', '"a:b"'), "prefix: expected a non-empty name without ':'"),
    "bad redis url": (
        GOOD.replace("redis://127.0.0.1:6379/0", "127.0.0.1:6379"),
        "redis: '127.0.0.1:6379' is not a redis://",
    ),
    "unknown exchange": (GOOD.replace('"kraken-v1"', '"nope"'), "feed[1].exchange: no adapter named 'nope'"),
    "bad feed url": (
        GOOD.replace("wss://example.com/ws", "https://example.com"),
        "feed[1].url: 'https://example.com' is not a ws://",
    ),
    "bad connection limit": (
        GOOD.replace("connection = 2", "connection = 0"),
        "feed[0].subscriptions_per_connection: expected a positive",
    ),
    "no subscriptions": (
        GOOD.replace('exchange = "kraken-v1"', 'exchange = "kraken-v1"\nsubscribe = []').split(
            '[[feed.subscribe]]\nchannel = "candles"'
        )[0],
        "feed[1].subscribe: the feed subscribes to nothing",
    ),
    "unknown channel": (GOOD.replace('"candles"', '"candels"'), "feed[1].subscribe[0]: unknown channel 'candels'"),
    "bad symbol": (
        GOOD.replace('"ETH/USD"', '"ETHUSD"'),
        "feed[0].subscribe[0]: symbol 'ETHUSD' is not in BASE/QUOTE form",
    ),
    "misplaced option": (
        GOOD.replace('channel = "book"', 'channel = "ticker"'),
        "feed[0].subscribe[1]: depth applies to the book channel, not ticker",
    ),
    "no symbols": (
        GOOD.replace('symbols = ["BTC/USD"]\ndepth', "depth"),
        "feed[0].subscribe[1]: book needs at least one SYMBOL",
    ),
    "unsupported depth": (GOOD.replace("depth = 25", "depth = 7"), "feed[0].subscribe[1]: "),
    "bad interval": (GOOD.replace('"5m"', '"5 minutes"'), "feed[1].subscribe[0]: interval '5 minutes' is not like"),
    "repeated": (
        GOOD.replace(
            '["BTC/USD"]\ndepth = 25', '["BTC/USD"]\n[[feed.subscribe]]\nchannel = "trades"\nsymbols = ["ETH/USD"]'
        ),
        "feed[0].subscribe[2]: trades:ETH/USD on kraken is already listed at feed[0].subscribe[0]",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_file_is_refused_naming_the_file_the_place_and_the_fault(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(FleetError) as refused:
        load_fleet(path)
    assert str(refused.value).startswith(f"{path}: "), refused.value
    assert expected in str(refused.value), (expected, str(refused.value))


def test_the_readme_fleet_file_is_a_good_one() -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Collectors on many machines.*?```toml\n(.*?)```", readme, flags=re.DOTALL)
    assert block is not None
    fleet = parse_fleet(tomllib.loads(textwrap.dedent(block[1])), "README.md")
    assert [shard.size for shard in fleet.shards] == [3, 3]


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match=r"fleet.toml: not valid TOML: .*line 3"):
        load_fleet(write(tmp_path, 'redis = "redis://h/0"\nshards = 2\nprefix = \n'))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match=r"absent\.toml: cannot read: No such file"):
        load_fleet(tmp_path / "absent.toml")


def test_the_command_line_reports_a_bad_file_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('"kraken-v1"', '"nope"'))
    result = xfeeds_run("collect", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"xfeeds: {path}: feed[1].exchange: no adapter named 'nope'; "
        f"available: {result.stderr.split('available: ')[1].strip()}"
    ]
    result = xfeeds_run("collect", "--config", write(tmp_path, GOOD).as_posix(), "--shard", "2")
    assert result.returncode == 2
    assert "has shards 0 to 1, not 2" in result.stderr


def xfeeds_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdk.cli", *args], capture_output=True, text=True, timeout=60, check=False, cwd=PROJECT
    )


SYMBOLS = [f"{base}/USD" for base in ("BTC", "ETH", "SOL", "XRP", "ADA", "DOT")]
FEEDS = st.lists(
    st.tuples(
        st.sampled_from(["kraken", "kraken-v1"]),
        st.lists(
            st.tuples(st.sampled_from(["trades", "ticker"]), st.sets(st.sampled_from(SYMBOLS), min_size=1)),
            min_size=1,
            max_size=3,
            unique_by=lambda entry: entry[0],
        ),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda feed: feed[0],
)


@given(FEEDS, st.integers(min_value=1, max_value=24))
def test_shards_partition_the_subscriptions_the_same_way_every_time_balanced_within_one(
    feeds: list[tuple[str, list[tuple[str, set[str]]]]], wanted: int
) -> None:
    def document(order: bool) -> dict[str, object]:
        entries = []
        for exchange, subscribes in feeds:
            listed = [{"channel": c, "symbols": sorted(s, reverse=order)} for c, s in subscribes]
            entries.append({"exchange": exchange, "subscribe": listed[::-1] if order else listed})
        return {"redis": "redis://h/0", "shards": min(wanted, total), "feed": entries}

    total = sum(len(symbols) for _, subscribes in feeds for _, symbols in subscribes)
    fleet = parse_fleet(document(False))
    every = [
        (feed.exchange, request) for shard in fleet.shards for feed in shard.feeds for request in feed.subscriptions
    ]
    wanted_set = {
        (exchange, f"{channel}:{symbol}")
        for exchange, subscribes in feeds
        for channel, symbols in subscribes
        for symbol in symbols
    }
    assert len(every) == len(set(every)) == total
    assert {(exchange, str(request)) for exchange, request in every} == wanted_set
    sizes = [shard.size for shard in fleet.shards]
    assert len(sizes) == min(wanted, total) and max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    assert parse_fleet(document(True)) == fleet  # the order of entries in the file does not matter


# -- collector processes ------------------------------------------------------------------------------

STARTED = re.compile(r"shard (\d+): collector started \(pid (\d+)\)")


class Collect:
    """``xfeeds collect`` as a child process, its log read as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sdk.cli", "collect", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            cwd=PROJECT,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 20) -> re.Match[str]:
        """The first log line from number ``after`` on that matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if found := re.search(pattern, line):
                    return found
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in:\n" + "\n".join(self.lines))

    def pids(self) -> dict[int, int]:
        """Each shard's newest collector process."""
        return {int(match[1]): int(match[2]) for line in self.lines if (match := STARTED.search(line))}

    def whole_log(self) -> str:
        """Everything the supervisor and its collectors logged, once they have all ended."""
        self._reader.join(10)
        return "\n".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@contextmanager
def collect(*args: str) -> Iterator[Collect]:
    running = Collect(*args)
    try:
        yield running
    finally:
        running.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def length(url: str, stream: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.xlen(stream))


def grows(url: str, stream: str, timeout: float = 15) -> bool:
    before = length(url, stream)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if length(url, stream) > before:
            return True
        time.sleep(0.1)
    return False


def fleet_file(tmp_path: Path, redis_url: str, prefix: str, *, url: str | None = None) -> Path:
    endpoint = f'url = "{url}"\n' if url else ""
    return write(
        tmp_path,
        f"""\
redis = "{redis_url}"
prefix = "{prefix}"
shards = 2

[[feed]]
exchange = "kraken"
{endpoint}
[[feed.subscribe]]
channel = "book"
symbols = ["BTC/USD"]

[[feed.subscribe]]
channel = "trades"
symbols = ["BTC/USD"]
""",
    )


@pytest.mark.loopback
@pytest.mark.timeout(120)
def test_a_killed_collector_is_restarted_and_its_streams_keep_growing(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = fleet_file(tmp_path, redis_url, prefix)
    with collect("--config", str(config), "--simulate") as running:
        running.wait_for("shard 0: collector started")
        running.wait_for("shard 1: collector started")
        book, trades = f"{prefix}:kraken:book", f"{prefix}:kraken:trades"
        assert grows(redis_url, book) and grows(redis_url, trades)
        victim = running.pids()[0]
        seen = len(running.lines)
        os.kill(victim, signal.SIGKILL)
        restart = running.wait_for(
            rf"shard 0: collector \(pid {victim}\) killed by SIGKILL; restart 1 in [0-9.]+ s", after=seen
        )
        assert restart
        running.wait_for(rf"shard 0: collector started \(pid (?!{victim}\))", after=seen)
        assert grows(redis_url, book), "the restarted collector publishes the book again"
        assert grows(redis_url, trades), "the other shard went on"
        pids = running.pids()
        assert running.stop() == 0
        assert all(gone(pid) for pid in pids.values())


@pytest.mark.loopback
@pytest.mark.timeout(120)
def test_sigterm_stops_every_collector_and_exits_0(tmp_path: Path, redis_url: str, prefix: str) -> None:
    config = fleet_file(tmp_path, redis_url, prefix)
    running = Collect("--config", str(config), "--simulate", "--shard", "1")
    try:
        running.wait_for("shard 1: collector started")
        assert grows(redis_url, f"{prefix}:kraken:trades")
        assert set(running.pids()) == {1}
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(30) == 0
        assert gone(running.pids()[1])
        running.wait_for("SIGTERM: stopping 1 collectors")
        assert "Traceback" not in running.whole_log(), "a collector did not stop cleanly"
    finally:
        running.stop()


@pytest.mark.loopback
@pytest.mark.timeout(120)
def test_collectors_stop_when_their_supervisor_is_killed(tmp_path: Path, redis_url: str, prefix: str) -> None:
    config = fleet_file(tmp_path, redis_url, prefix)
    running = Collect("--config", str(config), "--simulate")
    try:
        running.wait_for("shard 0: collector started")
        running.wait_for("shard 1: collector started")
        running.process.send_signal(signal.SIGKILL)
        running.process.wait(10)
        assert all(gone(pid) for pid in running.pids().values())
    finally:
        running.stop()


@contextmanager
def simulator(tmp_path: Path) -> Iterator[str]:
    """One Kraken simulator both collectors connect to, so they receive the same venue events."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sdk.cli", "simulate", "kraken", "--port", "0", "--tick", "0.02"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=PROJECT,
    )
    try:
        assert process.stdout is not None
        found = re.search(r"listening on (ws://\S+)", process.stdout.readline())
        assert found, "the simulator printed its URL"
        yield found[1]
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.loopback
@pytest.mark.timeout(120)
def test_two_collectors_of_one_fleet_store_each_venue_event_once(tmp_path: Path, redis_url: str, prefix: str) -> None:
    with simulator(tmp_path) as url:
        config = fleet_file(tmp_path, redis_url, prefix, url=url)
        with (
            collect("--config", str(config), "--host", "east") as east,
            collect("--config", str(config), "--host", "west") as west,
        ):
            for running in (east, west):
                running.wait_for("/0: 1 subscriptions on kraken")
                running.wait_for("/1: 1 subscriptions on kraken")
            time.sleep(3)
            assert east.stop() == 0 and west.stop() == 0
    codec = EntryCodec()
    with redis.Redis.from_url(redis_url) as client:
        entries = client.xrange(f"{prefix}:kraken:trades")
        control = client.xrange(f"{prefix}:kraken:control")
        book = client.xrange(f"{prefix}:kraken:book")
    trades = [codec.decode(fields[b"e"]) for _id, fields in entries]
    keys = [event_key(trade) for trade in trades if isinstance(trade, Trade)]
    assert len(keys) == len(trades) > 10 and len(set(keys)) == len(keys)
    ids = [trade.trade_id for trade in trades if isinstance(trade, Trade)]
    assert len(ids) == len(keys) == len(set(ids))
    books = [codec.decode(fields[b"e"]) for _id, fields in book]
    book_keys = [event_key(event) for event in books if isinstance(event, BookSnapshot | BookUpdate)]
    assert len(set(book_keys)) == len(book_keys) == len(books) > 10
    collectors = {fields[b"c"].decode() for _id, fields in control}
    assert {"east/0", "west/0", "east/1", "west/1"} <= collectors, collectors
