"""Reading Redis Streams in a consumer group as an event source: each entry delivered to one reader
of the group, acknowledged only after it was handed over, and every loss announced.

Acknowledging after delivery means an entry is acknowledged when its reader asks for more (or
closes): a reader killed while holding a batch leaves it pending, and another reader of the group
reclaims it once it has been idle ``claim_idle`` seconds. The broker does not tell a group that
trimming removed entries it had not read yet; the reader works it out from the stream's and the
group's counters, read in the same transaction as the entries, so exactly one reader of the group
announces each such gap (``StreamGap(reason="trimmed")``).
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from importlib.resources import files
from typing import Any, Self, TypedDict, Unpack, cast

import anyio
import msgspec
import redis.asyncio
import redis.exceptions

from schemas.events import Disconnected, ErrorEvent, Event, Reconnected, StreamGap
from sdk.credentials import shown_url
from sdk.errors import ConnectFailed, FeedClosed
from sdk.fanout.entries import EVENT, EntryCodec, StreamNames
from sdk.fanout.redis_client import BROKER, RECONNECT, UNREACHABLE, client, require_asyncio, run_id
from sdk.reconnect import ReconnectPolicy
from sdk.source import ClosedOnExit
from sdk.sync import SyncSource

logger = logging.getLogger("xfeeds.fanout")

COUNT_SKIPPED_SCRIPT = files("sdk.fanout").joinpath("count_skipped.lua").read_text(encoding="utf-8")

RAW_LIMIT = 4096
"""Characters of an undecodable entry kept in its ``ErrorEvent``, as a feed keeps of a bad frame."""

StreamId = tuple[int, int]
Entries = list[tuple[bytes, dict[bytes, bytes] | None]]


def stream_id(text: bytes | str) -> StreamId:
    """``b"1700000000000-3"`` as ``(1700000000000, 3)``, so entry ids compare as the server orders them."""
    milliseconds, _, sequence = (text.decode() if isinstance(text, bytes) else text).partition("-")
    return int(milliseconds), int(sequence or 0)


def trimmed_unread(stream: Mapping[str, Any], group: Mapping[str, Any]) -> int | None:
    """How many entries the group has not read were trimmed off the stream's head: 0 for none,
    None for some but an unknown number.

    ``stream`` and ``group`` are the stream's ``XINFO STREAM`` and the group's ``XINFO GROUPS``
    reply. Trimming removes the oldest entries, ``entries-added - length`` of them so far; the
    group has read ``entries-read`` of the stream's entries ever added. Entries were lost only while
    the stream's head is past the group's position: once the group reads past the head, the count
    is settled (``count_skipped.lua`` adds it to the group's counter, which the server does not).
    """
    last_delivered = stream_id(group["last-delivered-id"])
    if stream["length"]:
        head = stream_id(stream["first-entry"][0])
        if head <= last_delivered:
            return 0
    elif stream_id(stream["last-generated-id"]) <= last_delivered:
        return 0
    entries_read = group["entries-read"]
    if entries_read is None:
        deleted = stream_id(stream.get("max-deleted-entry-id") or b"0-0")
        return None if deleted > last_delivered else 0
    return max(0, int(stream["entries-added"]) - int(stream["length"]) - int(entries_read))


class StreamReader(ClosedOnExit):
    """One reader (``consumer``) of a consumer group (``group``) over Redis Streams, as an event source.

    ``streams`` names the streams to read; None reads every stream under ``prefix``
    (``{prefix}:{exchange}:{channel}``, as publishers name them), looking for new ones every
    ``rescan_interval`` seconds. The group is created where missing, reading from ``start`` ("0":
    everything the stream still holds; "$": only what comes next).

    Entries are read ``count`` at a time and decoded into the events published; an entry that does
    not decode becomes an ``ErrorEvent`` (and is acknowledged like the others). Entries are
    acknowledged when the next batch is asked for, or on closing: a reader that dies holding a
    batch leaves it pending, and every ``claim_interval`` seconds each reader reclaims entries that
    other readers of the group have held for over ``claim_idle`` seconds and delivers them.

    Losses are announced: ``StreamGap(reason="trimmed")`` for entries trimmed before the group read
    them (or while a dead reader held them), ``Disconnected``/``Reconnected`` (``exchange="redis"``)
    around a lost connection, retried by ``reconnect``, and ``StreamGap(reason="broker_restarted")``
    for every stream when the server came back as a new process or without the group. Iteration
    ends when the reader is closed, ``FeedClosed(failed=True)`` when ``reconnect`` gave up.

    asyncio only (redis-py's client); ``stream_sync`` is the blocking twin, on its own event loop.
    """

    def __init__(
        self,
        redis_url: str,
        group: str,
        consumer: str,
        *,
        streams: Iterable[str] | None = None,
        prefix: str = "xfeeds",
        count: int = 1000,
        block: float = 1.0,
        claim_idle: float = 30.0,
        claim_interval: float = 5.0,
        rescan_interval: float = 5.0,
        start: str = "0",
        reconnect: ReconnectPolicy = RECONNECT,
    ) -> None:
        if count < 1 or block <= 0 or claim_idle < 0 or claim_interval <= 0 or rescan_interval <= 0:
            raise ValueError(
                "count, block, claim_interval and rescan_interval must be positive, claim_idle not negative"
            )
        self.url = shown_url(redis_url)
        """The server's address as shown in events, logs and errors: without its password."""
        self.group = group
        self.consumer = consumer
        self.names = StreamNames(prefix)
        self.streams: list[str] = sorted(set(streams)) if streams is not None else []
        self._discover = streams is None
        self._count = count
        self._block_ms = max(1, round(block * 1000))
        self._claim_idle_ms = round(claim_idle * 1000)
        self._claim_interval = claim_interval
        self._rescan_interval = rescan_interval
        self._start = start
        self._policy = reconnect
        self._codec = EntryCodec()
        self._client: redis.asyncio.Redis = client(redis_url, socket_timeout=block + 10.0)
        self._count_skipped = self._client.register_script(COUNT_SKIPPED_SCRIPT)
        self._group_name = group.encode()
        self._unread: deque[Event] = deque()
        self._delivered: dict[str, list[bytes]] = {}
        """Ids of the entries handed to the user and not yet acknowledged, by stream."""
        self._claim_cursors: dict[str, bytes] = {}
        self._next_claim = 0.0
        self._resuming = True
        """Whether this consumer's own unacknowledged entries (from an earlier run) may remain to deliver."""
        self._next_scan = 0.0
        self._run_id: str | None = None
        self._down_since: float | None = None
        self._attempt = 0
        self._rng = random.Random()
        self._ended: FeedClosed | None = None

    async def __aenter__(self) -> Self:
        """Reach the server and make the group where missing; an unreachable server raises ``ConnectFailed``."""
        require_asyncio("reading Redis Streams", "stream_sync")
        try:
            self._run_id = await run_id(self._client)
            await self._find_streams()
        except UNREACHABLE as error:
            await self._client.aclose()
            raise ConnectFailed(self.url, error) from error
        return self

    async def aclose(self) -> None:
        """Acknowledge the last batch if it was handed out whole and the server is reachable, then disconnect.

        A batch left partly unread stays pending, to be delivered again (to another reader of the
        group, or to this consumer once reclaimed): duplicates, recognisable by their keys, rather
        than events acknowledged but never seen. Shielded: a cancelled task (Ctrl-C) still acknowledges.
        """
        if self._ended is None:
            self._ended = FeedClosed("stream reader closed by the user")
        with anyio.CancelScope(shield=True):
            try:
                if self._down_since is None and not self._unread:
                    await self._acknowledge()
            except UNREACHABLE as error:
                logger.warning("stream reader %s closed without acknowledging its last batch: %s", self.consumer, error)
            finally:
                self._unread.clear()
                await self._client.aclose()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if not self._unread:
            try:
                self._unread.extend(await self.next_batch())
            except FeedClosed as closed:
                if closed.failed:
                    raise
                raise StopAsyncIteration from None
        return self._unread.popleft()

    async def next_batch(self) -> list[Event]:
        """The next entries as events (at least one event, waiting for it), after acknowledging
        those handed out before; ``FeedClosed`` once closed."""
        if self._unread:
            batch = list(self._unread)
            self._unread.clear()
            return batch
        while True:
            if self._ended is not None:
                raise self._ended
            if self._down_since is not None:
                batch = await self._reconnect()
            else:
                try:
                    batch = await self._fetch()
                except UNREACHABLE as error:
                    batch = [self._went_down(error)]
                except redis.exceptions.ResponseError as error:
                    if not _group_gone(error):
                        raise
                    batch = await self._restore_groups()
            if batch:
                return batch

    async def _fetch(self) -> list[Event]:
        """One step: acknowledge, look for new streams and abandoned entries, read; [] when idle."""
        await self._acknowledge()
        now = time.monotonic()
        if self._discover and now >= self._next_scan:
            await self._find_streams()
        if self._resuming:
            resumed = await self._resume()
            if resumed:
                return resumed
        if now >= self._next_claim:
            claimed = await self._claim()
            if claimed:
                return claimed
        if not self.streams:
            await anyio.sleep(self._block_ms / 1000)
            return []
        events, positions = await self._read()
        if not events:
            await self._wait(positions)
        return events

    async def _acknowledge(self) -> None:
        if not self._delivered:
            return
        pipe = self._client.pipeline(transaction=False)
        for stream, ids in self._delivered.items():
            pipe.xack(stream, self.group, *ids)
        await pipe.execute()
        self._delivered.clear()

    async def _find_streams(self) -> None:
        """Every stream under the prefix (when none were named), each with the group made where missing."""
        if self._discover:
            found = [
                key.decode()
                async for key in self._client.scan_iter(match=self.names.pattern, count=1000, _type="stream")
            ]
            self._next_scan = time.monotonic() + self._rescan_interval
            known = set(self.streams)
            new = sorted(set(found) - known)
        else:
            new, self.streams = self.streams, []
        for stream in new:
            await self._make_group(stream)
        self.streams = sorted({*self.streams, *new})

    async def _make_group(self, stream: str) -> bool:
        """Create the group on ``stream`` (and the stream) unless it exists; whether it was created.

        A group reading from the start counts the entries trimmed before it existed as read, so
        its first reader does not take the stream's trimmed history for a gap.
        """
        entries_read = None
        if self._start == "0" and await self._client.exists(stream):
            info = await self._client.xinfo_stream(stream)
            entries_read = info["entries-added"] - info["length"]
        try:
            await self._client.xgroup_create(stream, self.group, self._start, mkstream=True, entries_read=entries_read)
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
            return False
        return True

    async def _resume(self) -> list[Event]:
        """The entries this consumer was handed before (by an earlier run under its name, which
        died or closed mid-batch) and never acknowledged, up to ``count``; [] once there are none.

        Read at once, not left for another reader's reclaiming after ``claim_idle``: a restarted
        consumer goes on where it stopped. Entries trimmed meanwhile are reported as a gap.
        """
        if not self.streams:
            return []
        share = max(1, self._count // len(self.streams))
        positions: dict[Any, Any] = dict.fromkeys(self.streams, "0")  # "0": this consumer's pending entries
        reply = cast(
            "list[tuple[bytes, Entries]]",
            await self._client.xreadgroup(self.group, self.consumer, positions, count=share),
        )
        events: list[Event] = []
        for name, entries in reply or ():
            stream = name.decode()
            lost = [entry_id for entry_id, fields in entries if not fields]
            if lost:
                events.append(self._gap(stream, "trimmed", len(lost)))
                await self._client.xack(stream, self.group, *lost)
            events += self._decode(stream, [(entry_id, fields) for entry_id, fields in entries if fields])
        if not events:
            self._resuming = False
        return events

    async def _claim(self) -> list[Event]:
        """Entries other readers of the group held longer than ``claim_idle``, up to ``count``; the
        pending entries trimmed meanwhile as gaps."""
        events: list[Event] = []
        claimed = 0
        for stream in self.streams:
            cursor = self._claim_cursors.pop(stream, b"0-0")
            reply = await self._client.xautoclaim(
                stream, self.group, self.consumer, self._claim_idle_ms, cursor, count=self._count - claimed
            )
            cursor, entries, deleted = reply[0], reply[1], reply[2] if len(reply) > 2 else []
            if cursor != b"0-0":
                self._claim_cursors[stream] = cursor
            lost = len(deleted) + sum(1 for _id, fields in entries if fields is None)
            if lost:
                events.append(self._gap(stream, "trimmed", lost))
            entries = [(entry_id, fields) for entry_id, fields in entries if fields is not None]
            claimed += len(entries)
            events += self._decode(stream, entries)
            if claimed >= self._count:
                break
        if claimed:
            logger.warning("stream reader %s reclaimed %d entries of readers gone idle", self.consumer, claimed)
        if not self._claim_cursors:
            self._next_claim = time.monotonic() + self._claim_interval
        return events

    async def _read(self) -> tuple[list[Event], dict[str, bytes]]:
        """New entries of every stream, each stream's trimmed gap before them; the group's positions.

        The counters and the entries are read in one transaction, so the one reader whose read
        moves the group past a trimmed stretch is the one that sees (and announces) it.
        """
        share = max(1, self._count // len(self.streams))  # COUNT is per stream: keep the batch to ``count``
        pipe = self._client.pipeline(transaction=True)
        for stream in self.streams:
            pipe.xinfo_stream(stream)
            pipe.xinfo_groups(stream)
        pipe.xreadgroup(self.group, self.consumer, dict.fromkeys(self.streams, ">"), count=share)
        replies = await pipe.execute()
        events: list[Event] = []
        positions: dict[str, bytes] = {}
        skipped: list[tuple[str, int]] = []
        for index, stream in enumerate(self.streams):
            info, groups = replies[2 * index], replies[2 * index + 1]
            mine = next(group for group in groups if group["name"] == self._group_name)
            positions[stream] = mine["last-delivered-id"]
            lost = trimmed_unread(info, mine)
            if lost != 0:
                events.append(self._gap(stream, "trimmed", lost))
            if lost:
                skipped.append((stream, lost))
        for name, entries in replies[-1] or ():
            events += self._decode(name.decode(), entries)
        for stream, lost in skipped:
            await self._count_skipped(keys=[stream], args=[self.group, lost])
        return events, positions

    async def _wait(self, positions: dict[str, bytes]) -> None:
        """Wait up to ``block`` for an entry after the group's position in any stream.

        A plain ``XREAD`` only wakes the reader: the entries are then read by ``_read``, in the
        transaction that checks for trimming, never straight from a blocking read.
        """
        await self._client.xread(positions, count=1, block=self._block_ms)  # type: ignore[arg-type]

    def _decode(self, stream: str, entries: Entries) -> list[Event]:
        """Entries as events, remembered for acknowledgement; what does not decode as ``ErrorEvent``."""
        if not entries:
            return []
        decode = self._codec.decode
        events: list[Event] = []
        for entry_id, fields in entries:
            payload = (fields or {}).get(EVENT, b"")
            try:
                events.append(decode(payload))
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                events.append(self._undecodable(stream, entry_id, fields or {}, error))
        self._delivered.setdefault(stream, []).extend(entry_id for entry_id, _fields in entries)
        return events

    def _undecodable(self, stream: str, entry_id: bytes, fields: dict[bytes, bytes], error: Exception) -> ErrorEvent:
        raw = " ".join(f"{key!r}={value!r}" for key, value in fields.items())
        return ErrorEvent(
            exchange=self.names.exchange_of(stream),
            ts_received=time.time_ns(),
            message=f"entry {entry_id.decode()} of {stream} is not an xfeeds event: {error}",
            raw=raw[:RAW_LIMIT],
            raw_size=sum(len(key) + len(value) for key, value in fields.items()),
        )

    def _gap(self, stream: str, reason: str, count: int | None) -> StreamGap:
        return StreamGap(
            exchange=self.names.exchange_of(stream),
            ts_received=time.time_ns(),
            stream=stream,
            reason=reason,  # type: ignore[arg-type]  # trimmed or broker_restarted
            count=count,
        )

    def _went_down(self, error: BaseException) -> Event:
        self._down_since = time.monotonic()
        self._attempt = 0
        logger.warning("stream reader %s lost %s: %s", self.consumer, self.url, error)
        return Disconnected(
            exchange=BROKER, ts_received=time.time_ns(), reason=f"{self.url}: {error or type(error).__name__}"
        )

    async def _reconnect(self) -> list[Event]:
        """Wait by the policy and try again; on success ``Reconnected`` and the gaps of a restarted server."""
        assert self._down_since is not None
        self._attempt += 1
        if self._policy.exhausted(self._attempt):
            self._ended = FeedClosed(
                f"gave up reconnecting to {self.url} after {self._attempt - 1} attempts", failed=True
            )
            return [
                Disconnected(exchange=BROKER, ts_received=time.time_ns(), reason="reconnecting given up", final=True)
            ]
        await anyio.sleep(self._policy.delay(self._attempt, self._rng))
        try:
            server = await run_id(self._client)
            restarted = server != self._run_id
            created = [stream for stream in self.streams if await self._make_group(stream)]
        except UNREACHABLE as error:
            logger.info(
                "stream reader %s: attempt %d to reach %s failed: %s", self.consumer, self._attempt, self.url, error
            )
            return []
        downtime = round((time.monotonic() - self._down_since) * 1e9)
        events: list[Event] = [
            Reconnected(exchange=BROKER, ts_received=time.time_ns(), attempt=self._attempt, downtime=downtime)
        ]
        lost = self.streams if restarted else created
        events += [self._gap(stream, "broker_restarted", None) for stream in lost]
        logger.warning("stream reader %s reached %s again after %.3f s", self.consumer, self.url, downtime / 1e9)
        self._run_id, self._down_since, self._attempt = server, None, 0
        self._claim_cursors.clear()
        return events

    async def _restore_groups(self) -> list[Event]:
        """The group (or a stream) vanished while the server ran: make it again and announce the gap."""
        created = [stream for stream in self.streams if await self._make_group(stream)]
        self._claim_cursors.clear()
        return [self._gap(stream, "broker_restarted", None) for stream in created]


def _group_gone(error: redis.exceptions.ResponseError) -> bool:
    return str(error).startswith("NOGROUP") or "no such key" in str(error)


class StreamOptions(TypedDict, total=False):
    """The keyword options of ``StreamReader`` (see its docstring), so a misspelt one fails type checking."""

    streams: Iterable[str] | None
    prefix: str
    count: int
    block: float
    claim_idle: float
    claim_interval: float
    rescan_interval: float
    start: str
    reconnect: ReconnectPolicy


def stream(redis_url: str, group: str, consumer: str, **options: Unpack[StreamOptions]) -> StreamReader:
    """Read Redis Streams as ``consumer`` of ``group``, an async event source; see ``StreamReader``."""
    return StreamReader(redis_url, group, consumer, **options)


class SyncStreamReader(SyncSource[StreamReader, Event]):
    """A ``StreamReader`` driven from ordinary threads: it reads on the background event loop."""


def stream_sync(redis_url: str, group: str, consumer: str, **options: Unpack[StreamOptions]) -> SyncStreamReader:
    """The blocking twin of ``stream``: the same reader, run on an asyncio loop in a background thread."""
    return SyncStreamReader(stream(redis_url, group, consumer, **options))
