"""Publishing into a real Redis server on 127.0.0.1: every event stored once, whoever publishes it,
and every loss (the server unreachable, restarted) announced in the stream and to the publisher."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
import redis
import redis.exceptions
from anyio.from_thread import start_blocking_portal

import sdk
from adapters.kraken.simulator import KrakenSimulator
from schemas.events import BookSnapshot, BookUpdate, Disconnected, Event, Reconnected, StreamGap, Subscribed, Trade
from schemas.subscription import Subscription
from sdk.errors import ConnectFailed
from sdk.fanout.entries import EntryCodec, is_venue_event
from sdk.fanout.local_server import RedisServer
from sdk.fanout.publish import MAX_BATCH
from sdk.identity import event_key
from sdk.reconnect import ReconnectPolicy
from sdk.source import EventList
from tests.fanout.reply_cutter import ReplyCutter
from tests.fanout.sources import trades

pytestmark = [pytest.mark.anyio, pytest.mark.loopback, pytest.mark.timeout(60)]

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    """redis-py's client runs on asyncio only."""
    return "asyncio"


def stored(url: str, stream: str) -> list[tuple[str, Event]]:
    """Every entry of a stream: the event's key (none for a control event) and the event."""
    codec = EntryCodec()
    with redis.Redis.from_url(url) as client:
        events = [codec.decode(fields[b"e"]) for _id, fields in client.xrange(stream)]
    return [(event_key(event) if is_venue_event(event) else "", event) for event in events]  # type: ignore[arg-type]


async def test_events_are_stored_in_order_with_their_identity(redis_url: str, prefix: str) -> None:
    events = trades(1_000)
    async with sdk.publish(EventList(events, batch=70), redis_url, prefix=prefix, batch_size=64) as publisher:
        seen = [event async for event in publisher]
    assert seen == events
    entries = stored(redis_url, f"{prefix}:kraken:trades")
    assert [event for _key, event in entries] == events
    assert publisher.stats.stored == 1_000
    assert publisher.stats.duplicates == 0


async def test_the_largest_batch_is_stored_whole(redis_url: str, prefix: str) -> None:
    """The script hands a whole batch's identities, then its marks, to single commands: at the
    largest batch allowed that must still fit what Lua unpacks into one call."""
    events = trades(2 * MAX_BATCH)
    source = EventList(events, batch=MAX_BATCH)
    async with sdk.publish(source, redis_url, prefix=prefix, batch_size=MAX_BATCH) as publisher:
        stats = await publisher.run()
    assert (stats.stored, stats.batches) == (2 * MAX_BATCH, 2)
    assert len(stored(redis_url, f"{prefix}:kraken:trades")) == 2 * MAX_BATCH


async def test_a_refusal_no_waiting_cures_surfaces_as_itself(redis_url: str, prefix: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        client.set(f"{prefix}:kraken:trades", "not a stream")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        async with sdk.publish(EventList(trades(300), pause=0.01), redis_url, prefix=prefix) as publisher:
            await publisher.run()


async def test_a_second_copy_of_the_same_events_is_refused(redis_url: str, prefix: str) -> None:
    for _ in range(2):
        async with sdk.publish(EventList(trades(500)), redis_url, prefix=prefix) as publisher:
            stats = await publisher.run()
    assert (stats.stored, stats.duplicates) == (0, 500)
    assert len(stored(redis_url, f"{prefix}:kraken:trades")) == 500


async def test_redundant_publishers_store_twenty_thousand_events_once_in_order(redis_url: str, prefix: str) -> None:
    events = trades(20_000)
    publishers = [
        sdk.publish(EventList(events, batch=250, pause=0.0005), redis_url, prefix=prefix, collector=name)
        for name in ("a", "b")
    ]
    async with anyio.create_task_group() as group:
        for publisher in publishers:
            group.start_soon(_run, publisher)
    assert [event for _key, event in stored(redis_url, f"{prefix}:kraken:trades")] == events
    assert sum(publisher.stats.stored for publisher in publishers) == 20_000
    assert sum(publisher.stats.duplicates for publisher in publishers) == 20_000


async def _run(publisher: sdk.Publisher) -> None:
    async with publisher:
        await publisher.run()


def test_a_collector_killed_mid_batch_loses_nothing_while_its_twin_publishes(redis_url: str, prefix: str) -> None:
    count = 20_000

    def start(name: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "tests.fanout.twin_publisher", redis_url, prefix, str(count), name]
        return subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, text=True)

    doomed, twin = start("doomed"), start("twin")
    try:
        assert doomed.stdout is not None and doomed.stdout.readline() == "publishing\n"
        stream = f"{prefix}:kraken:trades"
        with redis.Redis.from_url(redis_url) as client:
            deadline = time.monotonic() + 20
            while client.xlen(stream) < count // 4 and time.monotonic() < deadline:
                time.sleep(0.005)
        doomed.send_signal(signal.SIGKILL)
        assert twin.wait(40) == 0
    finally:
        for process in (doomed, twin):
            process.kill()
            process.wait()
    assert doomed.returncode == -signal.SIGKILL
    keys = [key for key, _event in stored(redis_url, stream)]
    assert len(keys) == count
    assert len(set(keys)) == count
    assert [event for _key, event in stored(redis_url, stream)] == trades(count)
    received: list[Event] = []
    with sdk.stream_sync(redis_url, "desk", "reader", streams=[stream], block=0.2) as reader:
        for event in reader:
            received.append(event)
            if len(received) == count:
                break
    assert received == trades(count)  # the consumer group sees each event once, in order


async def test_control_events_go_to_the_exchange_control_stream_naming_the_collector(
    redis_url: str, prefix: str
) -> None:
    subscribed = Subscribed(
        exchange="kraken",
        symbol="BTC/USD",
        ts_received=1,
        subscription=Subscription(channel="trades", symbol="BTC/USD"),
    )
    dropped = Disconnected(exchange="kraken", ts_received=2, reason="closed by the venue")
    source = EventList([subscribed, *trades(3), dropped])
    async with sdk.publish(source, redis_url, prefix=prefix, collector="east-1") as publisher:
        await publisher.run()
    control = f"{prefix}:kraken:control"
    assert [event for _key, event in stored(redis_url, control)] == [subscribed, dropped]
    with redis.Redis.from_url(redis_url) as client:
        assert {fields[b"c"] for _id, fields in client.xrange(control)} == {b"east-1"}
    assert len(stored(redis_url, f"{prefix}:kraken:trades")) == 3


async def test_the_server_password_shows_nowhere(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    url = "redis://:s3cret@127.0.0.1:1/0"
    publisher = sdk.publish(EventList(trades(1)), url, prefix=prefix)
    with pytest.raises(ConnectFailed) as refused:
        await publisher.__aenter__()
    reader = sdk.stream(url, "g", "c", prefix=prefix)
    with pytest.raises(ConnectFailed) as refused_too:
        await reader.__aenter__()
    shown = [str(refused.value), str(refused_too.value), publisher.url, reader.url, caplog.text]
    assert "redis://:***@127.0.0.1:1/0" in shown[0]
    assert not [text for text in shown if "s3cret" in text]


async def test_an_unreachable_server_at_start_is_a_clear_error(prefix: str) -> None:
    with pytest.raises(ConnectFailed, match=r"127\.0\.0\.1:1/0"):
        async with sdk.publish(EventList(trades(1)), "redis://127.0.0.1:1/0", prefix=prefix):
            pass


async def test_a_restarted_server_is_survived_and_the_restart_announced(own_redis: RedisServer, prefix: str) -> None:
    events = trades(3_000)
    source = EventList(events, batch=50, pause=0.002)
    policy = ReconnectPolicy(initial=0.02, cap=0.1)
    notices: list[Event] = []
    async with sdk.publish(source, own_redis.url, prefix=prefix, reconnect=policy) as publisher:
        async for event in publisher:
            if not isinstance(event, Trade):
                notices.append(event)
            elif event.trade_id == "1000":
                own_redis.kill()
            elif event.trade_id == "1500":
                own_redis.start()
    kinds = [type(notice) for notice in notices]
    assert kinds == [Disconnected, Reconnected, StreamGap]
    gap = notices[2]
    assert isinstance(gap, StreamGap)
    assert (gap.reason, gap.stream, gap.count) == ("broker_restarted", f"{prefix}:kraken:trades", None)
    entries = [event for _key, event in stored(own_redis.url, f"{prefix}:kraken:trades")]
    # fsync always: nothing acknowledged before the kill is lost, nothing queued during it either
    assert [event for event in entries if isinstance(event, Trade)] == events
    assert [event for event in entries if isinstance(event, StreamGap)] == [gap]


async def test_events_beyond_the_outbox_while_the_server_is_away_are_counted_and_announced(
    own_redis: RedisServer, prefix: str
) -> None:
    events = trades(2_000)
    source = EventList(events, batch=100, pause=0.001)
    policy = ReconnectPolicy(initial=0.02, cap=0.05)
    notices: list[Event] = []
    async with sdk.publish(
        source, own_redis.url, prefix=prefix, reconnect=policy, batch_size=100, buffer_events=300
    ) as publisher:
        async for event in publisher:
            if not isinstance(event, Trade):
                notices.append(event)
            elif event.trade_id == "500":
                own_redis.kill()
            elif event.trade_id == "1500":
                own_redis.start()
    gaps = [notice for notice in notices if isinstance(notice, StreamGap)]
    dropped = next(gap for gap in gaps if gap.reason == "publisher_dropped")
    assert dropped.count == publisher.stats.dropped > 0
    trades_stored = [e for _k, e in stored(own_redis.url, f"{prefix}:kraken:trades") if isinstance(e, Trade)]
    assert len(trades_stored) + dropped.count == len(events)
    assert len({trade.trade_id for trade in trades_stored}) == len(trades_stored)
    in_stream = [e for _k, e in stored(own_redis.url, f"{prefix}:kraken:trades") if isinstance(e, StreamGap)]
    assert dropped in in_stream


async def test_a_batch_whose_reply_was_lost_is_never_counted_as_dropped(own_redis: RedisServer, prefix: str) -> None:
    """The server stored a batch and its answer was lost with the connection; while the server stays
    away the outbox overflows. That batch is kept and sent again (stored once), never announced as
    dropped: the announced count is of events certainly not stored."""
    events = trades(2_000)
    policy = ReconnectPolicy(initial=0.02, cap=0.05)
    async with ReplyCutter(own_redis.port, down_for=0.5) as cutter:
        cutter.cut_next_script_reply()
        source = EventList(events, batch=100, pause=0.001)
        async with sdk.publish(
            source, cutter.url, prefix=prefix, reconnect=policy, batch_size=100, buffer_events=300
        ) as publisher:
            await publisher.run()
    assert cutter.cut == 1
    assert publisher.stats.dropped > 0
    trades_stored = [e for _k, e in stored(own_redis.url, f"{prefix}:kraken:trades") if isinstance(e, Trade)]
    assert len({trade.trade_id for trade in trades_stored}) == len(trades_stored)
    assert len(trades_stored) + publisher.stats.dropped == len(events)


def test_the_blocking_face_publishes_the_same(redis_url: str, prefix: str) -> None:
    with sdk.publish_sync(EventList(trades(300)), redis_url, prefix=prefix) as publisher:
        stats = publisher.run()
    assert stats.stored == 300
    assert len(stored(redis_url, f"{prefix}:kraken:trades")) == 300


async def test_a_live_feed_is_published_and_closed_cleanly(redis_url: str, prefix: str) -> None:
    """A feed runs tasks of its own: the publisher closes it, then its writer, each in its scope."""
    async with KrakenSimulator(tick_interval=0.002) as venue:
        async with sdk.publish(sdk.connect("kraken", venue.url), redis_url, prefix=prefix) as publisher:
            await publisher.subscribe(sdk.trades("BTC/USD"), sdk.book("BTC/USD", depth=10))
            seen: list[Event] = []
            with anyio.fail_after(10):
                async for event in publisher:
                    seen.append(event)
                    if sum(isinstance(e, BookUpdate) for e in seen) >= 20:
                        break
        assert publisher.stats.stored >= 20
    books = [event for _key, event in stored(redis_url, f"{prefix}:kraken:book")]
    assert books == [event for event in seen if isinstance(event, BookSnapshot | BookUpdate)]  # all handed out, stored


def test_the_blocking_face_publishes_a_feed_it_subscribes(redis_url: str, prefix: str) -> None:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(KrakenSimulator(tick_interval=0.002)) as venue,
        sdk.publish_sync(sdk.connect("kraken", venue.url), redis_url, prefix=prefix) as publisher,
    ):
        publisher.subscribe(sdk.trades("BTC/USD"))
        seen = [event for event, _ in zip(publisher, range(40), strict=False)]
    trades_seen = [event for event in seen if isinstance(event, Trade)]
    stored_trades = [event for _key, event in stored(redis_url, f"{prefix}:kraken:trades")]
    assert trades_seen and stored_trades[: len(trades_seen)] == trades_seen  # and the rest of the last batch
    with pytest.raises(TypeError, match="EventList takes no subscriptions"):
        anyio.run(sdk.publish(EventList(trades(1)), redis_url, prefix=prefix).subscribe, sdk.trades("BTC/USD"))
