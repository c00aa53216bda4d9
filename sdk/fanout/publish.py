"""Publishing an event source into Redis Streams, each venue event stored once however many
collectors publish it, every loss announced.

A batch of the source becomes one call of an atomic server-side script (``store.lua``): a round trip
per batch instead of per event, and the de-duplication check and the append cannot be separated by
a crash. A collector killed mid-batch has stored all of it or none of it; its twin's copies of the
same events are refused by their identity. A batch whose outcome is unknown (the connection broke
while it was in flight) is sent again after reconnecting: the identities make that harmless.

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
from dataclasses import dataclass
from importlib.resources import files
from types import TracebackType
from typing import Self, TypedDict, Unpack

import anyio
import redis.asyncio
import sniffio

from schemas.events import Disconnected, Event, Reconnected, StreamGap
from sdk.errors import ConnectFailed, FeedClosed
from sdk.fanout.entries import EntryCodec, StreamNames, identity_of, is_published
from sdk.fanout.server import BROKER, RECONNECT, UNREACHABLE, client, run_id
from sdk.reconnect import ReconnectPolicy
from sdk.source import EventSource
from sdk.sync import SyncSource

logger = logging.getLogger("xfeeds.fanout")

STORE_SCRIPT = files("sdk.fanout").joinpath("store.lua").read_text(encoding="utf-8")

Entry = tuple[str, str, bytes]
"""An event ready to store: its stream, its identity ('' for a control event) and its payload."""


@dataclass(slots=True)
class PublisherStats:
    """What a publisher did so far: events ``stored``, refused as ``duplicates`` (a twin stored them
    first), ``dropped`` while the server was unreachable, and ``batches`` sent."""

    stored: int = 0
    duplicates: int = 0
    dropped: int = 0
    batches: int = 0


class Publisher:
    """Drains an event source into Redis Streams; iterate it to see the source's events go by.

    Iterating yields every event of the source once it is stored, or queued for the server while
    it is unreachable, then the publisher's own notices: ``Disconnected``/``Reconnected`` (with
    ``exchange="redis"``) and ``StreamGap``. ``run()`` does the same without handing anything out.
    The publisher owns its source: entering it enters the source, closing it closes the source.

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
        if batch_size < 1 or maxlen < 1 or buffer_events < batch_size:
            raise ValueError("batch_size and maxlen must be positive, buffer_events at least batch_size")
        if not 0.001 <= dedupe_window <= 86_400:
            raise ValueError("dedupe_window must be between 1 ms and one day")
        self.source = source
        self.url = redis_url
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
        self._dropped: Counter[str] = Counter()
        self._streams: set[str] = set()
        self._notices: list[Event] = []
        self._pending: deque[Event] = deque()
        self._run_id: str | None = None
        self._down_since: float | None = None
        self._attempt = 0
        self._retry_at = 0.0
        self._rng = random.Random()
        self._ended: FeedClosed | None = None

    async def __aenter__(self) -> Self:
        """Reach the server, then enter the source; an unreachable server raises ``ConnectFailed``."""
        if sniffio.current_async_library() != "asyncio":
            raise RuntimeError("publishing to Redis runs on asyncio (redis-py's client); use publish_sync elsewhere")
        try:
            self._run_id = await run_id(self._client)
        except UNREACHABLE as error:
            await self._client.aclose()
            raise ConnectFailed(self.url, error) from error
        try:
            await self.source.__aenter__()
        except BaseException:
            await self._client.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the source, store what is still queued (for up to ``drain_timeout``), disconnect."""
        try:
            await self.source.aclose()
            with anyio.move_on_after(self._drain_timeout):
                await self._drain()
            if self._outbox:
                logger.warning(
                    "publisher %s closed with %d events not stored: %s unreachable",
                    self.collector,
                    len(self._outbox),
                    self.url,
                )
        finally:
            await self._client.aclose()

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
        """The source's next batch, stored (or queued), followed by the publisher's own notices."""
        if self._pending:
            batch = list(self._pending)
            self._pending.clear()
            return batch
        if self._ended is not None:
            raise self._ended
        try:
            batch = await self.source.next_batch()
        except FeedClosed as closed:
            self._ended = closed
            with anyio.move_on_after(self._drain_timeout):
                await self._drain()
            if self._notices:
                return self._take_notices()
            raise
        self._queue(batch)
        await self._store()
        return batch + self._take_notices() if self._notices else batch

    def _queue(self, batch: list[Event]) -> None:
        names, codec, outbox = self.names, self._codec, self._outbox
        for event in batch:
            if is_published(event):
                outbox.append((names.of(event), identity_of(event) or "", codec.encode(event)))
        excess = len(outbox) - self._buffer_events
        for _ in range(max(0, excess)):
            stream, _identity, _payload = outbox.popleft()
            self._dropped[stream] += 1
            self.stats.dropped += 1

    async def _store(self) -> None:
        """Send the outbox in batches; on a broken connection, note it and try again later."""
        if self._down_since is not None and not await self._reconnected():
            return
        while self._outbox:
            chunk = [self._outbox[index] for index in range(min(self._batch_size, len(self._outbox)))]
            try:
                await self._send(chunk)
            except UNREACHABLE as error:
                self._went_down(error)
                return
            for _ in chunk:
                self._outbox.popleft()

    async def _drain(self) -> None:
        """Store the whole outbox, waiting out the server's absence by the reconnect policy."""
        while self._outbox:
            await self._store()
            if self._outbox:
                await anyio.sleep(max(0.0, self._retry_at - time.monotonic()))

    async def _send(self, chunk: list[Entry]) -> None:
        streams: dict[str, int] = {}
        args: list[str | bytes | int] = [self._window_ms, self._maxlen, self.collector]
        for stream, identity, payload in chunk:
            index = streams.get(stream)
            if index is None:
                index = streams[stream] = len(streams) + 1
            args += (index, identity, payload)
        added = await self._script(keys=list(streams), args=args)
        self._streams.update(streams)
        self.stats.batches += 1
        self.stats.stored += int(added)
        self.stats.duplicates += len(chunk) - int(added)

    def _went_down(self, error: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning("publisher %s lost %s: %s", self.collector, self.url, error)
            self._notices.append(_now(Disconnected, reason=f"{self.url}: {error or type(error).__name__}"))
        self._attempt += 1
        self._retry_at = now + self._policy.delay(self._attempt, self._rng)

    async def _reconnected(self) -> bool:
        """Whether the server is back (after the backoff delay), announcing what was lost meanwhile."""
        if time.monotonic() < self._retry_at:
            return False
        try:
            server = await run_id(self._client)
            gaps = self._gaps(restarted=server != self._run_id)
            if gaps:
                await self._send([(stream, "", self._codec.encode(gap)) for stream, gap in gaps])
        except UNREACHABLE as error:
            self._went_down(error)
            return False
        assert self._down_since is not None
        downtime = round((time.monotonic() - self._down_since) * 1e9)
        self._notices.append(_now(Reconnected, attempt=self._attempt, downtime=downtime))
        self._notices += [gap for _stream, gap in gaps]
        logger.warning("publisher %s reached %s again after %.3f s", self.collector, self.url, downtime / 1e9)
        self._run_id, self._down_since, self._attempt = server, None, 0
        self._dropped.clear()
        return True

    def _gaps(self, *, restarted: bool) -> list[tuple[str, StreamGap]]:
        """The gaps to announce in each stream on reconnecting: a restarted server, dropped events."""
        gaps: list[tuple[str, StreamGap]] = []
        ns = time.time_ns()
        if restarted:
            for stream in sorted(self._streams):
                gaps.append((stream, self._gap(stream, "broker_restarted", None, ns)))
        for stream, count in sorted(self._dropped.items()):
            gaps.append((stream, self._gap(stream, "publisher_dropped", count, ns)))
        return gaps

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


def _now(kind: type[Disconnected] | type[Reconnected], **fields: object) -> Event:
    return kind(exchange=BROKER, ts_received=time.time_ns(), **fields)  # type: ignore[arg-type]


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

    def run(self) -> PublisherStats:
        """Publish until the source ends, as ``Publisher.run``."""
        return self._await(self._source.run)


def publish_sync(source: EventSource[Event], redis_url: str, **options: Unpack[PublishOptions]) -> SyncPublisher:
    """The blocking twin of ``publish``: give it an async source not yet entered (``sdk.connect(...)``)."""
    return SyncPublisher(publish(source, redis_url, **options))
