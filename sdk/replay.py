"""Reading recordings, and replaying them through the very session that ran live, on a virtual clock.

A replay makes a fresh ``FeedSession`` for the recorded adapter and gives it every recorded input
with its recorded times: frames through the same codec, books and checksums; connects, disconnects,
subscriptions and timer ticks as they happened. So the events are the live feed's, byte for byte.
How fast it goes is the replay's only choice: as fast as the consumer reads, or at the recorded
pace times ``speed``.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Awaitable, Iterable, Iterator
from pathlib import Path
from typing import Literal, Self

import anyio
import anyio.abc
import anyio.lowlevel
import msgspec

from schemas.events import Event, RecordingGap
from sdk import registry
from sdk.buffer import EventBuffer
from sdk.recording import (
    FORMAT,
    SUFFIX,
    Connect,
    Disconnect,
    End,
    Gap,
    Header,
    Inbound,
    Outbound,
    Record,
    Resume,
    Subscribe,
    Tick,
    Unsubscribe,
    Wait,
    require_zstandard,
)
from sdk.session import FeedSession, FeedSettings, Outgoing
from sdk.source import ClosedOnExit
from sdk.sync import SyncSource

logger = logging.getLogger("xfeeds")

TimeBasis = Literal["received", "exchange"]
Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]

_CHUNK = 1 << 20


def recording_files(paths: Paths) -> list[Path]:
    """The files of a recording: each path as given, a directory as its recordings sorted by name (time)."""
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    for path in map(Path, given):
        files += sorted(path.glob(f"*{SUFFIX}")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no recording in {', '.join(map(str, given)) or 'nothing'}")
    return files


def read_records(paths: Paths) -> Iterator[Record]:
    """Every record of the files in order, each file starting with its header.

    A file cut short (a crash, a full disk) gives every record up to its last complete line and
    ends there with a warning; the next file goes on.
    """
    for path in recording_files(paths):
        yield from _file_records(path)


def _file_records(path: Path) -> Iterator[Record]:
    require_zstandard()
    import zstandard  # noqa: PLC0415  # an optional extra

    decoder = msgspec.json.Decoder(Record)
    with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
        tail = b""
        first = True
        while True:
            try:
                chunk = reader.read(_CHUNK)
            except zstandard.ZstdError as exc:
                logger.warning("%s is cut short (%s): replaying it up to its last complete block", path, exc)
                return
            if not chunk:
                break
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            for line in lines:
                record = _decode(decoder, line, path)
                if first:
                    _check_header(record, path)
                    first = False
                yield record
        if tail:
            logger.warning("%s ends inside a record: replaying it up to its last complete block", path)


def _decode(decoder: msgspec.json.Decoder[Record], line: bytes, path: Path) -> Record:
    try:
        return decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise ValueError(f"{path}: not an xfeeds recording ({exc})") from exc


def _check_header(record: Record, path: Path) -> None:
    if not isinstance(record, Header):
        raise ValueError(f"{path}: not an xfeeds recording (it starts with {type(record).__name__}, not a header)")
    if record.format > FORMAT:
        raise ValueError(f"{path}: recording format {record.format} is newer than this xfeeds reads ({FORMAT})")


def inbound_frames(paths: Paths) -> Iterator[tuple[bytes, int]]:
    """Every frame a recording received, verbatim, with its receive time (ns): test input from real traffic."""
    for record in read_records(paths):
        if type(record) is Inbound:
            yield record.frame, record.ns


class Player:
    """Gives a fresh ``FeedSession`` the recorded inputs, one record at a time: a replay without I/O.

    The session is made from the first header: the same adapter, timing settings, and (for a file
    that starts inside a rotation) the subscriptions and connection in force.
    """

    def __init__(self, header: Header) -> None:
        adapter = registry.get(header.adapter)
        settings = header.settings
        self.header = header
        self.session = FeedSession(
            adapter,
            FeedSettings(
                ack_timeout=settings.ack_timeout,
                stale_after=settings.stale_after,
                ping_interval=settings.ping_interval,
                idle_timeout=settings.idle_timeout,
                resync_interval=settings.resync_interval,
            ),
        )
        self._unsent: deque[Outgoing] = deque()
        for held in header.subscriptions:
            self.session.subscribe([held.subscription], verify=held.verify)
        if header.connection:
            self.session.connection_made(header.mono, header.ns)
        self._unsent.extend(self.session.take_outgoing())

    def play(self, record: Record) -> list[Event]:
        """The events the live feed delivered for this record."""
        session = self.session
        events: list[Event] = []
        kind = type(record)
        if kind is Inbound:
            assert isinstance(record, Inbound)
            events = session.receive([record.frame], record.mono, record.ns)
        elif kind is Outbound:
            assert isinstance(record, Outbound)
            if self._unsent and self._unsent[0].text == record.text:
                session.sent(self._unsent.popleft(), record.mono)
        elif kind is Tick:
            events = session.tick(record.mono, record.ns)
        elif kind is Connect:
            assert isinstance(record, Connect)
            for _ in range(record.attempts):
                session.reconnect_delay()  # counts the attempt, as the live feed's did
            events = session.connection_made(record.mono, record.ns)
        elif kind is Disconnect:
            assert isinstance(record, Disconnect)
            events = session.connection_lost(record.reason, record.mono, record.ns)
            self._unsent.clear()
        elif kind is Subscribe:
            assert isinstance(record, Subscribe)
            session.subscribe(record.subscriptions, verify=record.verify)
        elif kind is Unsubscribe:
            assert isinstance(record, Unsubscribe)
            session.unsubscribe(record.subscriptions)
        elif kind is Wait:
            session.reader_waiting(record.mono)
        elif kind is Resume:
            session.reader_resumed(record.mono)
        elif kind is End:
            assert isinstance(record, End)
            events = [session.ended(record.reason, record.ns)]
        elif kind is Gap:
            assert isinstance(record, Gap)
            events = [
                RecordingGap(
                    exchange=session.exchange,
                    dropped=record.dropped,
                    total=record.total,
                    reason=record.reason,
                    ts_received=record.ns,
                )
            ]
        elif kind is Header:
            assert isinstance(record, Header)
            if record.adapter != self.header.adapter:
                raise ValueError(f"a recording of {record.adapter} follows one of {self.header.adapter}")
        if session.has_outgoing:
            self._unsent.extend(session.take_outgoing())
        return events


class Replay(ClosedOnExit):
    """A recording as an event source: the surface of a feed's consuming side (``async with``,
    ``async for``, ``next_batch``, ``aclose``); iteration ends at the end of the recording.

    ``speed=None`` goes as fast as the consumer reads; a number keeps the recorded pace times it.
    ``start``/``end`` (ns, inclusive) bound the events delivered, by their receive time or, with
    ``by="exchange"``, by the exchange's time (their receive time when the venue gave none). The
    records before ``start`` are still played, at full speed, so books and subscriptions are right.
    """

    def __init__(
        self,
        paths: Paths,
        *,
        speed: float | None = None,
        start: int | None = None,
        end: int | None = None,
        by: TimeBasis = "received",
        buffer_size: int = 10_000,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be above 0 (or None for full speed), not {speed}")
        if by not in ("received", "exchange"):
            raise ValueError(f"by must be 'received' or 'exchange', not {by!r}")
        self.files = recording_files(paths)
        self.speed = speed
        self.start = -math.inf if start is None else start
        self.end = math.inf if end is None else end
        self.by = by
        self.player: Player | None = None
        """The player once entered: its ``session`` holds the replayed books and counters."""
        self._buffer = EventBuffer(buffer_size, "wait")
        self._records: Iterator[Record] = iter(())
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        """Read the first header; a missing file or one that is not a recording raises here."""
        self._records = read_records(self.files)
        header = next(self._records, None)
        if not isinstance(header, Header):
            raise ValueError(f"{self.files[0]}: an empty recording")
        self.player = Player(header)
        self._task_group = await anyio.create_task_group().__aenter__()
        self._task_group.start_soon(self._run, self.player)
        return self

    async def aclose(self) -> None:
        self._buffer.close("replay closed by the user")
        group, self._task_group = self._task_group, None
        if group is not None:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[Event]:
        """The next event; iteration ends at the end of the recording (a broken file raises)."""
        return self._buffer.next_event()

    async def next_batch(self) -> list[Event]:
        """Every event replayed and not yet read (at least one); ``FeedClosed`` at the end."""
        return await self._buffer.get_batch()

    async def _run(self, player: Player) -> None:
        try:
            await self._play(player)
        except Exception as exc:  # a broken file or a bug: the reader gets it as itself
            self._buffer.close(str(exc), error=exc)
        else:
            self._buffer.close("end of the recording")

    async def _play(self, player: Player) -> None:
        buffer, start, end = self._buffer, self.start, self.end
        by_exchange = self.by == "exchange"
        paced: tuple[float, float] | None = None  # (recorded mono, loop time) of the first paced record
        played = 0
        for record in self._records:
            if record.ns > end and not by_exchange:
                return
            events = player.play(record)
            if by_exchange:
                events = [e for e in events if start <= (e.ts_exchange or e.ts_received) <= end]
            elif record.ns < start:
                continue
            if self.speed is not None:
                if paced is None:
                    paced = (record.mono, anyio.current_time())
                due = paced[1] + (record.mono - paced[0]) / self.speed
                if due > anyio.current_time():
                    await anyio.sleep_until(due)
            if events:
                await buffer.put(events)
            played += 1
            if played % 256 == 0:
                await anyio.lowlevel.checkpoint()  # let the consumer read while the replay runs ahead


def replay(
    paths: Paths,
    *,
    speed: float | None = None,
    start: int | None = None,
    end: int | None = None,
    by: TimeBasis = "received",
) -> Replay:
    """A recording (files, or directories of them) replayed as an async event source; see ``Replay``."""
    return Replay(paths, speed=speed, start=start, end=end, by=by)


def replay_sync(
    paths: Paths,
    *,
    speed: float | None = None,
    start: int | None = None,
    end: int | None = None,
    by: TimeBasis = "received",
    backend: str = "asyncio",
) -> SyncSource[Replay, Event]:
    """The blocking twin of ``replay``: iterate it in a ``with`` block from ordinary code."""
    return SyncSource(replay(paths, speed=speed, start=start, end=end, by=by), backend=backend)
