"""Reading Redis Streams in a consumer group, against a real server: every entry decoded, delivered to
one reader, acknowledged after delivery, reclaimed from a dead reader, and every loss announced.

asyncio only: redis-py's asyncio client runs on asyncio streams, not on trio.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from typing import get_args

import anyio
import msgspec
import pytest
import redis.asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdk
from schemas.events import Disconnected, ErrorEvent, Event, Reconnected, StreamGap, Trade
from sdk.fanout.entries import COLLECTOR, EVENT, EntryCodec, StreamNames, identity_of
from sdk.fanout.local_server import RedisServer
from sdk.testing import events
from tests.fanout.sources import trades

pytestmark = [pytest.mark.loopback, pytest.mark.timeout(60)]

FAST = sdk.ReconnectPolicy(initial=0.05, cap=0.2)
TRADES = "kraken:trades"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def put(url: str, prefix: str, published: Iterable[Event], *, maxlen: int | None = None) -> None:
    """Store events as a publisher does (fields ``e``, and ``c`` for a control event), with an exact length cap if given."""
    names, codec = StreamNames(prefix), EntryCodec()
    client = redis.asyncio.Redis.from_url(url)
    try:
        pipe = client.pipeline(transaction=False)
        for event in published:
            fields = {EVENT: codec.encode(event)}
            if not identity_of(event):
                fields[COLLECTOR] = "test"
            pipe.xadd(names.of(event), fields, maxlen=maxlen, approximate=False)  # type: ignore[arg-type]
        await pipe.execute()
    finally:
        await client.aclose()


async def read(reader: sdk.StreamReader, count: int, *, kinds: tuple[type, ...] = (Trade,)) -> list[Event]:
    """Batches until ``count`` events of ``kinds`` came, every event kept."""
    got: list[Event] = []
    with anyio.fail_after(20):
        while sum(isinstance(event, kinds) for event in got) < count:
            got += await reader.next_batch()
    return got


def trade_ids(received: Iterable[Event]) -> list[str]:
    return [event.trade_id or "" for event in received if isinstance(event, Trade)]


async def pending(url: str, stream: str, group: str) -> int:
    client = redis.asyncio.Redis.from_url(url)
    try:
        return int((await client.xpending(stream, group))["pending"])
    finally:
        await client.aclose()


# -- the entry encoding -----------------------------------------------------------------------------


@given(events())
def test_every_event_survives_the_entry_encoding(event: Event) -> None:
    codec = EntryCodec()
    assert codec.decode(codec.encode(event)) == event


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.tuples(*[events(kind) for kind in get_args(Event)]))
def test_events_of_every_type_are_read_back_equal(redis_url: str, published: Sequence[Event]) -> None:
    prefix = f"xfeeds-test-{uuid.uuid4().hex[:12]}"

    async def scenario() -> list[Event]:
        await put(redis_url, prefix, published)
        async with sdk.stream(redis_url, "g", "c", prefix=prefix, block=0.05) as reader:
            got: list[Event] = []
            with anyio.fail_after(20):
                while len(got) < len(published):
                    got += await reader.next_batch()
            return got

    got = asyncio.run(scenario())
    assert sorted(map(msgspec.msgpack.encode, got)) == sorted(map(msgspec.msgpack.encode, published))
    assert sorted(got, key=msgspec.msgpack.encode) == sorted(published, key=msgspec.msgpack.encode)


# -- one group, several readers ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_two_readers_of_a_group_split_the_entries_each_once(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(2000))
    received: dict[str, list[str]] = {"a": [], "b": []}

    async def consume(name: str, done: anyio.CancelScope) -> None:
        async with sdk.stream(redis_url, "g", name, prefix=prefix, count=100, block=0.05) as reader:
            while len(received["a"]) + len(received["b"]) < 2000:
                received[name] += trade_ids(await reader.next_batch())
                await anyio.sleep(0)  # let the other reader take its turn
            done.cancel()  # the other reader waits for more that never comes

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(consume, "a", tasks.cancel_scope)
            tasks.start_soon(consume, "b", tasks.cancel_scope)
    assert received["a"] and received["b"]
    assert sorted(received["a"] + received["b"], key=int) == [str(n) for n in range(1, 2001)]
    assert await pending(redis_url, f"{prefix}:{TRADES}", "g") == 0


@pytest.mark.anyio
async def test_entries_are_acknowledged_only_when_more_is_asked_for(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(30))
    stream = f"{prefix}:{TRADES}"
    async with sdk.stream(redis_url, "g", "c", prefix=prefix, count=10, block=0.05) as reader:
        first = [await anext(reader) for _ in range(10)]
        assert len(first) == 10 and await pending(redis_url, stream, "g") == 10
        await reader.next_batch()
        assert await pending(redis_url, stream, "g") == 10  # the first ten acknowledged, the next ten held
    assert await pending(redis_url, stream, "g") == 0


READ_AND_DIE = """
import asyncio, sys
import sdk

async def main() -> None:
    reader = sdk.stream(sys.argv[1], "g", "doomed", prefix=sys.argv[2], count=500, block=0.05)
    await reader.__aenter__()
    batch = await reader.next_batch()
    print(len(batch), flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def kill_a_reader_holding_500(redis_url: str, prefix: str) -> None:
    """A reader named ``doomed``, in a process of its own, takes 500 entries and is killed before
    acknowledging them."""
    doomed = subprocess.Popen(
        [sys.executable, "-c", READ_AND_DIE, redis_url, prefix], stdout=subprocess.PIPE, text=True
    )
    try:
        assert doomed.stdout is not None
        assert await anyio.to_thread.run_sync(doomed.stdout.readline) == "500\n"
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(5)


@pytest.mark.anyio
async def test_a_reader_killed_before_acknowledging_loses_nothing(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(1000))
    await kill_a_reader_holding_500(redis_url, prefix)
    assert await pending(redis_url, f"{prefix}:{TRADES}", "g") == 500
    async with sdk.stream(
        redis_url, "g", "rescuer", prefix=prefix, claim_idle=0.2, claim_interval=0.1, block=0.05
    ) as reader:
        got = await read(reader, 1000)
    assert sorted(trade_ids(got), key=int) == [str(n) for n in range(1, 1001)]
    assert await pending(redis_url, f"{prefix}:{TRADES}", "g") == 0


@pytest.mark.anyio
async def test_a_reader_restarted_under_its_name_goes_on_with_what_it_held(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(1000))
    await kill_a_reader_holding_500(redis_url, prefix)
    async with sdk.stream(redis_url, "g", "doomed", prefix=prefix, claim_idle=3600, block=0.05) as reader:
        got = await read(reader, 1000)  # no other reader, no reclaiming within the hour: its own come first
    assert trade_ids(got) == [str(n) for n in range(1, 1001)]
    assert await pending(redis_url, f"{prefix}:{TRADES}", "g") == 0


# -- losses announced --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_trimming_past_a_stalled_group_is_announced_once_with_its_count(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(10))
    async with sdk.stream(redis_url, "g", "c", prefix=prefix, count=10, block=0.05) as reader:
        assert trade_ids(await read(reader, 10)) == [str(n) for n in range(1, 11)]
        await put(redis_url, prefix, trades(5000, first=11), maxlen=1000)  # the group is 5000 behind
        got = await read(reader, 1000)
        gaps = [event for event in got if isinstance(event, StreamGap)]
        assert gaps == [gaps[0]] and got[0] is gaps[0]
        assert (gaps[0].stream, gaps[0].reason, gaps[0].count) == (f"{prefix}:{TRADES}", "trimmed", 4000)
        assert trade_ids(got) == [str(n) for n in range(4011, 5011)]

        await put(redis_url, prefix, trades(3000, first=5011), maxlen=1000)  # behind again: 2000 more lost
        got = await read(reader, 1000)
        assert [(e.reason, e.count) for e in got if isinstance(e, StreamGap)] == [("trimmed", 2000)]
        assert trade_ids(got) == [str(n) for n in range(7011, 8011)]


@pytest.mark.anyio
async def test_a_group_joining_a_trimmed_stream_reports_no_gap(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(300), maxlen=100)
    async with sdk.stream(redis_url, "g", "c", prefix=prefix, block=0.05) as reader:
        got = await read(reader, 100)
    assert trade_ids(got) == [str(n) for n in range(201, 301)] and len(got) == 100


@pytest.mark.anyio
async def test_an_entry_that_is_no_event_becomes_an_error_event_and_is_acknowledged(
    redis_url: str, prefix: str
) -> None:
    stream = f"{prefix}:{TRADES}"
    client = redis.asyncio.Redis.from_url(redis_url)
    await client.xadd(stream, {"e": b"\x93not msgpack"})
    await client.xadd(stream, {"something": "else"})
    await client.aclose()
    await put(redis_url, prefix, trades(1))
    async with sdk.stream(redis_url, "g", "c", prefix=prefix, block=0.05) as reader:
        got = await read(reader, 1)
    errors = [event for event in got if isinstance(event, ErrorEvent)]
    assert len(errors) == 2 and len(got) == 3
    assert all(error.exchange == "kraken" and stream in error.message for error in errors)
    assert "something" in errors[1].raw
    assert await pending(redis_url, stream, "g") == 0


@pytest.mark.anyio
async def test_a_restarted_server_is_announced_and_reading_goes_on(own_redis: RedisServer, prefix: str) -> None:
    url = own_redis.url
    await put(url, prefix, trades(100))
    async with sdk.stream(url, "g", "c", prefix=prefix, block=0.05, reconnect=FAST) as reader:
        assert len(trade_ids(await read(reader, 100))) == 100
        own_redis.kill()
        got: list[Event] = []
        with anyio.fail_after(10):
            while not any(isinstance(event, Disconnected) for event in got):
                got += await reader.next_batch()
        own_redis.start()
        with anyio.fail_after(10):
            while not any(isinstance(event, StreamGap) for event in got):
                got += await reader.next_batch()
        disconnected, reconnected, gap = got[0], got[1], got[2]
        assert isinstance(disconnected, Disconnected) and disconnected.exchange == "redis"
        assert isinstance(reconnected, Reconnected) and reconnected.exchange == "redis"
        assert isinstance(gap, StreamGap) and (gap.stream, gap.reason, gap.count) == (
            f"{prefix}:{TRADES}",
            "broker_restarted",
            None,
        )
        await put(url, prefix, trades(50, first=101))
        assert trade_ids(await read(reader, 50)) == [str(n) for n in range(101, 151)]  # nothing read twice
    assert await pending(url, f"{prefix}:{TRADES}", "g") == 0


# -- streams found, the blocking face -----------------------------------------------------------------


@pytest.mark.anyio
async def test_streams_that_appear_later_are_found(redis_url: str, prefix: str) -> None:
    await put(redis_url, prefix, trades(5))
    async with sdk.stream(redis_url, "g", "c", prefix=prefix, block=0.05, rescan_interval=0.1) as reader:
        await read(reader, 5)
        await put(redis_url, prefix, trades(5, exchange="midchains"))
        got = await read(reader, 5)
    assert {event.exchange for event in got} == {"midchains"}
    assert reader.streams == [f"{prefix}:kraken:trades", f"{prefix}:midchains:trades"]


def test_the_blocking_face_reads_the_same(redis_url: str, prefix: str) -> None:
    asyncio.run(put(redis_url, prefix, trades(250)))
    got: list[Event] = []
    with sdk.stream_sync(redis_url, "g", "c", prefix=prefix, count=100, block=0.05) as reader:
        while len(got) < 250:
            got += reader.next_batch()
    assert trade_ids(got) == [str(n) for n in range(1, 251)]
    assert asyncio.run(pending(redis_url, f"{prefix}:{TRADES}", "g")) == 0


def test_tail_prints_what_it_reads_and_acknowledges_it_on_ctrl_c(redis_url: str, prefix: str) -> None:
    asyncio.run(put(redis_url, prefix, trades(20)))
    tail = subprocess.Popen(
        [sys.executable, "-m", "sdk.cli", "tail", redis_url, "--group", "g", "--prefix", prefix, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert tail.stdout is not None
        lines = [tail.stdout.readline() for _ in range(20)]
        tail.send_signal(signal.SIGINT)
        out, err = tail.communicate(timeout=20)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    printed = [msgspec.json.decode(line, type=Event) for line in lines + out.splitlines()]
    assert trade_ids(printed) == [str(n) for n in range(1, 21)]
    assert asyncio.run(pending(redis_url, f"{prefix}:{TRADES}", "g")) == 0
