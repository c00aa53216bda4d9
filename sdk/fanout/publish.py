"""Publishing an event source into Redis Streams, each venue event stored once however many
collectors publish it, every loss announced.

A batch of the source becomes one call of an atomic server-side script (``store.lua``): a round trip
per batch instead of per event, and the de-duplication check and the append cannot be separated by
a crash. A collector killed mid-batch has stored all of it or none of it; its twin's copies of the
same events are refused by their identity. A batch whose outcome is unknown (the connection broke
while it was in flight) is sent again after reconnecting: the identities make that harmless for
venue events. Control events have no identity (nothing tells two of them apart), so one in such a
batch, or a gap announcement whose answer was lost, may be stored twice.

While the server is unreachable, events wait in a bounded outbox; what overflows it is counted per
stream and announced, in the stream itself and to the caller, as ``StreamGap(publisher_dropped)``
once the server is back. A server that comes back as a new process (its ``run_id`` changed) may
have lost what it had not persisted: that is announced as ``StreamGap(broker_restarted)``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from importlib.resources import files
from typing import Self, TypedDict, Unpack

import anyio
import anyio.abc
import redis.asyncio
import redis.exceptions

from schemas.events import Disconnected, Event, Reconnected, StreamGap
from schemas.subscription import Subscription
from sdk.credentials import shown_url
from sdk.errors import ConnectFailed, FeedClosed
from sdk.fanout.entries import EntryCodec, StreamNames, identity_of, is_published
from sdk.fanout.redis_client import BROKER, RECONNECT, UNREACHABLE, client, refused_for_now, require_asyncio, run_id
from sdk.merge import Subscribes
from sdk.reconnect import ReconnectPolicy
from sdk.source import ClosedOnExit, EventSource
from sdk.sync import SyncSource

logger = logging.getLogger("xfeeds.fanout")

STORE_SCRIPT = files("sdk.fanout").joinpath("store.lua").read_text(encoding="utf-8")

Entry = tuple[str, bytes, bytes]
"""An event ready to store: its stream, its identity (empty for a control event) and its payload."""

MAX_BATCH = 2_000
"""Events in one script call at most: the script passes a stream's identities, and then the new ones
with their marks (twice as many values), to one command each, and Lua unpacks a few thousand
values into a call at most."""


@dataclass(slots=True)
class PublisherStats:
    """What a publisher did so far: events ``stored``, refused as ``duplicates`` (a twin stored them
    first), ``dropped`` while the server was unreachable, and ``batches`` sent."""

    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    batches: int = 0


class Publisher(ClosedOnExit):
    """Drains an event source into Redis Streams; iterate it to see the source's events go by.

    Iterating yields every event of the source once it is queued for the server (a writer task
    stores the queue while the next events are read, so decoding and the server's work overlap),
    then the publisher's own notices: ``Disconnected``/``Reconnected`` (with ``exchange="redis"``)
    and ``StreamGap``. ``run()`` does the same without handing anything out. The queue holds at
    most ``buffer_events``: while the server is reachable a full queue holds the source back; while
    it is not, the oldest events are dropped, counted and announced. A batch sent whose reply was
    lost with the server is never among them (the server may have stored it: it is sent again), so
    the count is of events certainly not stored; that batch keeps its place, and newer events are
    dropped instead. The publisher owns its source: entering it enters the source, closing it
    closes the source.

    Each venue event goes to ``{prefix}:{exchange}:{channel}`` and each control event of the source
    (a collector's disconnects, the gaps it saw) to ``{prefix}:{exchange}:control``, naming the
    collector. ``dedupe_window`` (seconds) is how long an identity is remembered at least (twice that
    at most); ``maxlen`` caps each stream, approximately, trimming its oldest entries (readers that
    fall that far behind are told). Redis Cluster is not supported: a batch touches several keys.
    """

    def __init__(
        self,
        source: EventSource[Event],
        redis_url: str,
        *,
        prefix: str = "xfeeds",
        collector: str | None = None,
        batch_size: int = 500,
        maxlen: int = 1_000_000,
        dedupe_window: float = 60.0,
        buffer_events: int = 100_000,
        reconnect: ReconnectPolicy = RECONNECT,
        drain_timeout: float = 5.0,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH or maxlen < 1 or buffer_events < batch_size:
            raise ValueError(
                f"batch_size must be 1 to {MAX_BATCH}, maxlen positive and buffer_events at least batch_size"
            )
        if not 0.001 <= dedupe_window <= 86_400:
            raise ValueError("dedupe_window must be between 1 ms and one day")
        self.source = source
        self.url = shown_url(redis_url)
        """The server's address as shown in events, logs and errors: without its password."""
        self.names = StreamNames(prefix)
        self.collector = collector or f"{socket.gethostname()}:{os.getpid()}"
        self.stats = PublisherStats()
        self._batch_size = batch_size
        self._maxlen = maxlen
        self._window_ms = max(1, round(dedupe_window * 1000))
        self._buffer_events = buffer_events
        self._policy = reconnect
        self._drain_timeout = drain_timeout
        self._codec = EntryCodec()
        self._client: redis.asyncio.Redis = client(redis_url)
        self._script = self._client.register_script(STORE_SCRIPT)
        self._outbox: deque[Entry] = deque()
        self._queued = anyio.Event()  # set when the outbox gets entries (or the publisher closes)
        self._freed = anyio.Event()  # set when the writer took entries out (or the server went away)
        self._dropped: Counter[str] = Counter()
        self._unsettled = 0
        """Entries at the head of the outbox sent to the server without an answer yet: perhaps stored."""
        self._streams: set[str] = set()
        self._notices: list[Event] = []
        self._pending: deque[Event] = deque()
        self._run_id = ""
        self._down_since: float | None = None
        self._attempt = 0
        self._rng = random.Random()
        self._closing = False
        self._ended: FeedClosed | None = None
        self._failure: Exception | None = None
        self._writer_done = anyio.Event()
        self._stack: AsyncExitStack | None = None
        self._writers: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        """Reach the server, enter the source, start the writer; an unreachable server raises
        ``ConnectFailed``."""
        require_asyncio("publishing to Redis", "publish_sync")
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._client.aclose)
            try:
                self._run_id = await run_id(self._client)
            except UNREACHABLE as error:
                raise ConnectFailed(self.url, error) from error
            # the writer's task group first: the source (a feed has its own task group) is inside
            # it, so closing the source before the writer keeps the task groups' scopes nested
            self._writers = await stack.enter_async_context(anyio.create_task_group())
            self._writers.start_soon(self._write)
            await stack.enter_async_context(self.source)
            self._stack = stack.pop_all()
        return self

    async def aclose(self) -> None:
        """Close the source, let the writer store what is queued (for up to ``drain_timeout``), disconnect."""
        stack, self._stack = self._stack, None
        if stack is None:
            return
        await self.source.aclose()
        self._close_outbox()
        with anyio.move_on_after(self._drain_timeout):
            await self._writer_done.wait()
        if self._outbox or self._dropped:
            logger.warning(
                "publisher %s closed with %d events perhaps not stored and %d dropped unannounced: %s unreachable",
                self.collector,
                len(self._outbox),
                sum(self._dropped.values()),
                self.url,
            )
        assert self._writers is not None
        self._writers.cancel_scope.cancel()  # a writer still waiting for the server after the drain time
        await stack.aclose()  # the writer never raises (it keeps its failure), so nothing comes wrapped in a group

    async def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """Subscribe the published source (a feed), as its own ``subscribe`` does."""
        if not isinstance(self.source, Subscribes):
            raise TypeError(f"a {type(self.source).__name__} takes no subscriptions")
        await self.source.subscribe(*subscriptions, verify=verify)

    async def run(self) -> PublisherStats:
        """Publish until the source ends; ``FeedClosed`` if a policy ended it."""
        try:
            while True:
                await self.next_batch()
        except FeedClosed as closed:
            if closed.failed:
                raise
        return self.stats

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if not self._pending:
            try:
                self._pending.extend(await self.next_batch())
            except FeedClosed:
                raise StopAsyncIteration from None
        return self._pending.popleft()

    async def next_batch(self) -> list[Event]:
        """The source's next batch, queued for the server, followed by the publisher's own notices.

        When the source ends, waits (up to ``drain_timeout``) until the queue is stored, hands out
        the last notices, then raises the source's ``FeedClosed``.
        """
        if self._pending:
            batch = list(self._pending)
            self._pending.clear()
            return batch
        if self._failure is not None:
            raise self._failure
        if self._ended is None:
            try:
                batch = await self.source.next_batch()
            except FeedClosed as closed:
                self._ended = closed
                self._close_outbox()
                with anyio.move_on_after(self._drain_timeout):
                    await self._writer_done.wait()
            else:
                await self._queue(batch)
                return batch + self._take_notices() if self._notices else batch
        if self._notices:
            return self._take_notices()
        raise self._ended

    async def _queue(self, batch: list[Event]) -> None:
        """Put a batch's events in the outbox: wait for room while the server takes them, drop the
        oldest (counted per stream) while it is away."""
        names, codec, outbox = self.names, self._codec, self._outbox
        for event in batch:
            if is_published(event):
                outbox.append((names.of(event), identity_of(event), codec.encode(event)))
        self._queued.set()
        while len(outbox) > self._buffer_events and self._down_since is None and self._failure is None:
            self._freed = anyio.Event()
            await self._freed.wait()
        excess = len(outbox) - self._buffer_events
        if excess > 0:
            unsettled = [outbox.popleft() for _ in range(self._unsettled)]  # sent again, never counted lost
            for _ in range(min(excess, len(outbox))):
                stream, _identity, _payload = outbox.popleft()
                self._dropped[stream] += 1
                self.stats.dropped += 1
            outbox.extendleft(reversed(unsettled))

    def _close_outbox(self) -> None:
        """No more entries will come: the writer stores what is left, then ends."""
        self._closing = True
        self._queued.set()

    async def _write(self) -> None:
        """The writer task: store the outbox a batch at a time, riding out the server's absence."""
        try:
            while True:
                while not self._outbox:
                    if self._closing:
                        return
                    self._queued = anyio.Event()
                    await self._queued.wait()
                if self._down_since is not None and not await self._reconnected():
                    continue
                chunk = [self._outbox[index] for index in range(min(self._batch_size, len(self._outbox)))]
                self._unsettled = len(chunk)
                try:
                    await self._send(chunk)
                except UNREACHABLE as error:
                    self._went_down(error)
                    continue
                except redis.exceptions.ResponseError as error:
                    if not refused_for_now(error):
                        raise  # a refusal that no waiting cures (a stream key of another type...): surfaced
                    self._went_down(error)
                    continue
                for _ in chunk:
                    self._outbox.popleft()
                self._unsettled = 0
                self._freed.set()
        except Exception as error:  # a defect: kept for the reader, who sees it as itself
            logger.error("publisher %s stopped by an unexpected error", self.collector, exc_info=error)
            self._failure = error
            self._freed.set()
        finally:
            self._writer_done.set()

    async def _send(self, chunk: list[Entry]) -> None:
        """One script call for a chunk: its events grouped by stream, in order within each."""
        if not chunk:
            return
        groups: dict[str, list[Entry]] = {}
        for entry in chunk:
            groups.setdefault(entry[0], []).append(entry)
        args: list[str | bytes | int] = [self._window_ms, self._maxlen, self.collector]
        for index, (_stream, entries) in enumerate(groups.items(), start=1):
            args += (index, len(entries))
            for _stream_name, identity, payload in entries:
                args += (identity, payload)
        added = int(await self._script(keys=list(groups), args=args))
        self._streams.update(groups)
        self.stats.batches += 1
        self.stats.stored += added
        self.stats.duplicates += len(chunk) - added

    def _went_down(self, error: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning("publisher %s lost %s: %s", self.collector, self.url, error)
            reason = f"{self.url}: {error or type(error).__name__}"
            self._notices.append(Disconnected(exchange=BROKER, ts_received=time.time_ns(), reason=reason))
        self._freed.set()  # a source waiting for room now drops the oldest instead

    async def _reconnected(self) -> bool:
        """Wait by the policy, then whether the server is back, announcing what was lost meanwhile."""
        down_since = self._down_since
        assert down_since is not None
        self._attempt += 1
        await anyio.sleep(self._policy.delay(self._attempt, self._rng))
        try:
            server = await run_id(self._client)
        except (*UNREACHABLE, redis.exceptions.ResponseError):
            return False
        dropped, self._dropped = self._dropped, Counter()
        gaps = self._gaps(restarted=server != self._run_id, dropped=dropped)
        self._down_since = None  # from here a full outbox holds the source back again, dropping nothing
        try:
            await self._send([(stream, b"", self._codec.encode(gap)) for stream, gap in gaps])
        except (*UNREACHABLE, redis.exceptions.ResponseError):
            self._down_since = down_since
            self._dropped.update(dropped)
            return False
        downtime = round((time.monotonic() - down_since) * 1e9)
        self._notices.append(
            Reconnected(exchange=BROKER, ts_received=time.time_ns(), attempt=self._attempt, downtime=downtime)
        )
        self._notices += [gap for _stream, gap in gaps]
        logger.warning("publisher %s reached %s again after %.3f s", self.collector, self.url, downtime / 1e9)
        self._run_id, self._attempt = server, 0
        return True

    def _gaps(self, *, restarted: bool, dropped: Counter[str]) -> list[tuple[str, StreamGap]]:
        """The gaps to announce in each stream on reconnecting: a restarted server, dropped events."""
        ns = time.time_ns()
        restarts = sorted(self._streams) if restarted else []
        gaps = [(stream, self._gap(stream, "broker_restarted", None, ns)) for stream in restarts]
        return gaps + [
            (stream, self._gap(stream, "publisher_dropped", count, ns)) for stream, count in sorted(dropped.items())
        ]

    def _gap(self, stream: str, reason: str, count: int | None, ns: int) -> StreamGap:
        return StreamGap(
            exchange=self.names.exchange_of(stream),
            ts_received=ns,
            stream=stream,
            reason=reason,  # type: ignore[arg-type]  # one of the two literals above
            count=count,
            collector=self.collector,
        )

    def _take_notices(self) -> list[Event]:
        notices, self._notices = self._notices, []
        return notices


class PublishOptions(TypedDict, total=False):
    """The keyword options of ``Publisher`` (see its docstring), so a misspelt one fails type checking."""

    prefix: str
    collector: str | None
    batch_size: int
    maxlen: int
    dedupe_window: float
    buffer_events: int
    reconnect: ReconnectPolicy
    drain_timeout: float


def publish(source: EventSource[Event], redis_url: str, **options: Unpack[PublishOptions]) -> Publisher:
    """Publish an event source (a feed, a merge, a replay) into Redis Streams; see ``Publisher``.

    asyncio only (redis-py's client); ``publish_sync`` is the blocking twin, on its own event loop.
    """
    return Publisher(source, redis_url, **options)


class SyncPublisher(SyncSource[Publisher, Event]):
    """A ``Publisher`` driven from ordinary threads: the source runs on the background event loop."""

    @property
    def stats(self) -> PublisherStats:
        return self._source.stats

    def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """As ``Publisher.subscribe``, on the publisher's event loop (inside the ``with`` block)."""
        self._await(lambda: self._source.subscribe(*subscriptions, verify=verify))

    def run(self) -> PublisherStats:
        """Publish until the source ends, as ``Publisher.run``."""
        return self._await(self._source.run)


def publish_sync(source: EventSource[Event], redis_url: str, **options: Unpack[PublishOptions]) -> SyncPublisher:
    """The blocking twin of ``publish``: give it an async source not yet entered (``sdk.connect(...)``)."""
    return SyncPublisher(publish(source, redis_url, **options))
