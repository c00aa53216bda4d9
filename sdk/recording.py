"""The recording format and its writer: every input a feed's session saw, so a replay can give it again.

A recording is a directory of files named ``<adapter>-<UTC time>.jsonl.zst``, sortable by time. Each
file is a sequence of independent zstd frames, each holding whole newline-separated JSON records,
so ``zstdcat FILE | head`` reads it, and a file cut short by a crash gives back every record up to
its last complete frame. A file starts with a ``Header`` (adapter, URL, xfeeds version, the feed's
timing settings, and the subscriptions and connection in force, so a later file of a rotation
stands alone); the records after it are the session's inputs in the order they happened, each with
the wall-clock time (``ns``) and the monotonic time (``mono``, seconds) the live feed gave it:

- ``in``: one frame received, verbatim (``text``, or ``data`` as base64 when it is not UTF-8),
  malformed ones included;
- ``out``: one frame sent (``text``; null for a transport ping);
- ``connect`` and ``disconnect`` (with the reason, and the close code when the venue sent one),
  each with the connection number;
- ``subscribe`` and ``unsubscribe`` as the user asked, ``tick`` when the feed looked at its timers,
  ``wait``/``resume`` when the reader waited for a slow consumer, ``end`` when a policy ended the
  feed, and ``gap`` where records were lost.

Writing is off the event loop: the feed hands records to a bounded queue that a writer thread
encodes, compresses and writes. A full queue or a failing disk never stalls the feed: the lost
records are counted and the feed reports them in its stream as ``RecordingGap``.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

import msgspec

from schemas.events import RecordingGap
from schemas.subscription import Subscription

if TYPE_CHECKING:
    import zstandard

logger = logging.getLogger("xfeeds")

FORMAT: Final = 1
"""The version of the record layout; a reader refuses files of a newer one."""

SUFFIX: Final = ".jsonl.zst"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The feed's timing rules (seconds): they decide what a tick delivers, so a replay needs them."""

    ack_timeout: float
    stale_after: float
    ping_interval: float
    idle_timeout: float
    resync_interval: float


class Held(msgspec.Struct, frozen=True):
    """A subscription in force when a file starts, and whether its book's checksums are verified."""

    subscription: Subscription
    verify: bool = True


class _Record(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind", omit_defaults=True):
    ns: int
    """Wall-clock nanoseconds: what the feed stamped on the events as ``ts_received``."""
    mono: float
    """Monotonic seconds: what the feed's deadlines were measured in."""


class Header(_Record, frozen=True, kw_only=True, tag="header"):
    format: int = FORMAT
    adapter: str
    url: str
    xfeeds: str
    settings: Settings
    subscriptions: tuple[Held, ...] = ()
    connection: int = 0
    """The connection open when the file starts (0: none): a later file of a rotation starts inside it."""


class Inbound(_Record, frozen=True, kw_only=True, tag="in"):
    conn: int
    text: str | None = None
    data: bytes | None = None
    """A frame that is not valid UTF-8, kept as bytes (base64 in the file)."""

    @property
    def frame(self) -> bytes:
        return self.data if self.data is not None else (self.text or "").encode()


class Outbound(_Record, frozen=True, kw_only=True, tag="out"):
    conn: int
    text: str | None = None
    """None for a transport-level ping."""


class Connect(_Record, frozen=True, kw_only=True, tag="connect"):
    conn: int
    attempts: int = 0
    """Reconnect attempts the feed made (failed ones included) before this connection opened."""


class Disconnect(_Record, frozen=True, kw_only=True, tag="disconnect"):
    conn: int
    reason: str
    code: int | None = None
    """The WebSocket close code, when the connection ended with one."""


class Subscribe(_Record, frozen=True, kw_only=True, tag="subscribe"):
    subscriptions: tuple[Subscription, ...]
    verify: bool = True


class Unsubscribe(_Record, frozen=True, kw_only=True, tag="unsubscribe"):
    subscriptions: tuple[Subscription, ...]


class Tick(_Record, frozen=True, kw_only=True, tag="tick"):
    pass


class Wait(_Record, frozen=True, kw_only=True, tag="wait"):
    pass


class Resume(_Record, frozen=True, kw_only=True, tag="resume"):
    pass


class End(_Record, frozen=True, kw_only=True, tag="end"):
    reason: str


class Gap(_Record, frozen=True, kw_only=True, tag="gap"):
    dropped: int
    total: int
    reason: str


Record = Header | Inbound | Outbound | Connect | Disconnect | Subscribe | Unsubscribe | Tick | Wait | Resume | End | Gap
"""Every kind of line in a recording."""


def xfeeds_version() -> str:
    try:
        return version("xfeeds")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def file_name(adapter: str, ns: int) -> str:
    """``kraken-20260101T120000.123456789Z.jsonl.zst``: names sort by the time their first record was made."""
    stamp = datetime.datetime.fromtimestamp(ns // 1_000_000_000, datetime.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{adapter}-{stamp}.{ns % 1_000_000_000:09d}Z{SUFFIX}"


def require_zstandard() -> None:
    """Raise an ImportError naming the extra that brings zstandard, when it is missing."""
    try:
        import zstandard  # noqa: F401, PLC0415  # an optional extra
    except ImportError as exc:
        raise ImportError("recordings need the zstandard package: pip install 'xfeeds[record]'") from exc


@dataclass(frozen=True, kw_only=True)
class Rotation:
    """When to start a new file: after ``max_bytes`` of compressed output or ``max_seconds`` of records."""

    max_bytes: int = 256 * 1024 * 1024
    max_seconds: float = 3600.0


class Recorder:
    """Records one feed into ``directory``; pass it (or just the directory) as ``Feed(..., record=...)``.

    The feed's event loop only appends records to a queue of at most ``queue_size``; a writer
    thread encodes them, ends a zstd frame every ``block_records`` records or ``block_seconds``
    (the most a crash can lose) and starts a new file as ``rotation`` says. When the queue is full
    or the disk fails, records are dropped and counted, and the feed reports a ``RecordingGap``;
    after a disk error the writer tries a new file every ``retry_seconds``.

    ``records``, ``bytes`` (compressed, written), ``lost`` and ``file`` tell how it goes.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        rotation: Rotation | None = None,
        queue_size: int = 100_000,
        level: int = 3,
        block_records: int = 250,
        block_seconds: float = 1.0,
        retry_seconds: float = 1.0,
    ) -> None:
        require_zstandard()
        if queue_size < 1 or block_records < 1:
            raise ValueError("queue_size and block_records must be at least 1")
        self.directory = Path(directory)
        self.rotation = rotation or Rotation()
        self.queue_size = queue_size
        self.level = level
        self.block_records = block_records
        self.block_seconds = block_seconds
        self.retry_seconds = retry_seconds
        self.records = 0
        """Records written to disk so far."""
        self.bytes = 0
        """Compressed bytes written so far, over every file."""
        self.files: list[Path] = []
        """Every file written to, in order; the last is the current one."""
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._conn = 0
        # what the feed is told, shared with the writer thread
        self._lock = threading.Lock()
        self._lost = 0
        self._unreported = 0
        self._lost_reason = ""
        # the writer thread's own state
        self._header: Header | None = None
        self._held: dict[Subscription, bool] = {}
        self._open_conn = 0
        self._out: IO[bytes] | None = None
        self._file_ns = 0
        self._file_bytes = 0
        self._retry_at = 0.0

    @property
    def lost(self) -> int:
        """Records dropped so far (queue full or disk failing)."""
        return self._lost

    @property
    def file(self) -> Path | None:
        """The file being written, if any."""
        return self.files[-1] if self.files and self._out is not None else None

    # -- the feed's side (its event loop) ---------------------------------------------------

    def start(self, adapter: str, url: str, settings: Settings) -> None:
        """Start the writer thread; every file it opens begins with a header naming these."""
        if self._thread is not None:
            raise RuntimeError("a recorder records one feed")
        self._header = Header(ns=0, mono=0.0, adapter=adapter, url=url, xfeeds=xfeeds_version(), settings=settings)
        self._thread = threading.Thread(target=self._write_all, name="xfeeds-recorder", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued and stop the writer (blocking: run it in a worker thread from async code)."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def connection_made(self, mono: float, ns: int, attempts: int) -> None:
        self._conn += 1
        self._put(Connect(ns=ns, mono=mono, conn=self._conn, attempts=attempts))

    def received(self, frames: Iterable[bytes], mono: float, ns: int) -> None:
        conn = self._conn
        for frame in frames:
            try:
                record = Inbound(ns=ns, mono=mono, conn=conn, text=frame.decode())
            except UnicodeDecodeError:
                record = Inbound(ns=ns, mono=mono, conn=conn, data=frame)
            self._put(record)

    def sent(self, text: str | None, mono: float, ns: int) -> None:
        self._put(Outbound(ns=ns, mono=mono, conn=self._conn, text=text))

    def connection_lost(self, reason: str, code: int | None, mono: float, ns: int) -> None:
        self._put(Disconnect(ns=ns, mono=mono, conn=self._conn, reason=reason, code=code))

    def subscribed(self, subscriptions: Iterable[Subscription], verify: bool, mono: float, ns: int) -> None:
        self._put(Subscribe(ns=ns, mono=mono, subscriptions=tuple(subscriptions), verify=verify))

    def unsubscribed(self, subscriptions: Iterable[Subscription], mono: float, ns: int) -> None:
        self._put(Unsubscribe(ns=ns, mono=mono, subscriptions=tuple(subscriptions)))

    def ticked(self, mono: float, ns: int) -> None:
        self._put(Tick(ns=ns, mono=mono))

    def reader_waiting(self, mono: float, ns: int) -> None:
        self._put(Wait(ns=ns, mono=mono))

    def reader_resumed(self, mono: float, ns: int) -> None:
        self._put(Resume(ns=ns, mono=mono))

    def ended(self, reason: str, mono: float, ns: int) -> None:
        self._put(End(ns=ns, mono=mono, reason=reason))

    def gap(self, exchange: str, mono: float, ns: int) -> RecordingGap | None:
        """The ``RecordingGap`` to deliver when records were lost since the last one, else None.

        The gap is recorded too, where it is reported, so a replay delivers it at the same place.
        """
        if not self._unreported:
            return None
        with self._lock:
            dropped, self._unreported = self._unreported, 0
            total, reason = self._lost, self._lost_reason
        self._put(Gap(ns=ns, mono=mono, dropped=dropped, total=total, reason=reason))
        return RecordingGap(exchange=exchange, dropped=dropped, total=total, reason=reason, ts_received=ns)

    def _put(self, record: Record) -> None:
        if len(self._queue) >= self.queue_size:
            self._lose(1, "the disk did not keep up")
            return
        self._queue.append(record)
        if not self._wake.is_set():
            self._wake.set()

    def _lose(self, count: int, reason: str) -> None:
        with self._lock:
            self._lost += count
            self._unreported += count
            self._lost_reason = reason

    # -- the writer thread ------------------------------------------------------------------

    def _write_all(self) -> None:
        import zstandard  # noqa: PLC0415  # an optional extra, checked in __init__

        compressor = zstandard.ZstdCompressor(level=self.level)
        encoder = msgspec.json.Encoder()
        pending: list[Record] = []
        block_started = time.monotonic()
        while True:
            self._wake.wait(self.block_seconds)
            self._wake.clear()
            closing = self._closing
            while self._queue:
                pending.append(self._queue.popleft())
                if len(pending) >= self.block_records:
                    self._write_block(pending, compressor, encoder)
                    pending, block_started = [], time.monotonic()
            if pending and (closing or time.monotonic() - block_started >= self.block_seconds):
                self._write_block(pending, compressor, encoder)
                pending, block_started = [], time.monotonic()
            if not pending:
                block_started = time.monotonic()
            if closing and not self._queue:
                break
        self._close_file()

    def _write_block(
        self, records: list[Record], compressor: zstandard.ZstdCompressor, encoder: msgspec.json.Encoder
    ) -> None:
        """Write records as one zstd frame per file they fall in, opening and rotating files as needed."""
        chunk: list[Record] = []
        for record in records:
            if self._out is not None and self._rotation_due(record):
                self._flush(chunk, compressor, encoder)
                chunk = []
                self._close_file()
            if self._out is None:
                header = self._open(record)
                if header is None:
                    self._lose(1, self._lost_reason or "cannot open a file")
                    self._track(record)
                    continue
                chunk.append(header)
            chunk.append(record)
            self._track(record)
        self._flush(chunk, compressor, encoder)

    def _rotation_due(self, record: Record) -> bool:
        rotation = self.rotation
        return self._file_bytes >= rotation.max_bytes or record.ns - self._file_ns >= rotation.max_seconds * 1e9

    def _open(self, record: Record) -> Header | None:
        """Open the next file, named by ``record``'s time; its header says what is in force before it."""
        assert self._header is not None
        if time.monotonic() < self._retry_at:
            return None
        adapter = self._header.adapter
        path = self.directory / file_name(adapter, record.ns)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._out = path.open("ab")
        except OSError as exc:
            self._failed(f"cannot open {path}: {exc}")
            return None
        self.files.append(path)
        self._file_ns, self._file_bytes = record.ns, 0
        held = tuple(Held(s, v) for s, v in self._held.items())
        return msgspec.structs.replace(
            self._header, ns=record.ns, mono=record.mono, subscriptions=held, connection=self._open_conn
        )

    def _track(self, record: Record) -> None:
        """Keep what the next file's header must say: the subscriptions and the connection in force."""
        if isinstance(record, Subscribe):
            self._held.update(dict.fromkeys(record.subscriptions, record.verify))
        elif isinstance(record, Unsubscribe):
            for subscription in record.subscriptions:
                self._held.pop(subscription, None)
        elif isinstance(record, Connect):
            self._open_conn = record.conn
        elif isinstance(record, Disconnect | End):
            self._open_conn = 0

    def _flush(self, chunk: list[Record], compressor: zstandard.ZstdCompressor, encoder: msgspec.json.Encoder) -> None:
        if not chunk or self._out is None:
            return
        frame = compressor.compress(encoder.encode_lines(chunk))
        written = sum(1 for record in chunk if not isinstance(record, Header))
        try:
            self._out.write(frame)
            self._out.flush()
        except OSError as exc:
            self._lose(written, f"cannot write {self.files[-1]}: {exc}")
            self._failed(str(exc))
            self._close_file()
            return
        self.records += written
        self.bytes += len(frame)
        self._file_bytes += len(frame)

    def _failed(self, reason: str) -> None:
        logger.warning("recording: %s; retrying in %g s", reason, self.retry_seconds)
        with self._lock:
            self._lost_reason = reason
        self._retry_at = time.monotonic() + self.retry_seconds

    def _close_file(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except OSError as exc:
                logger.warning("recording: closing %s: %s", self.files[-1], exc)
