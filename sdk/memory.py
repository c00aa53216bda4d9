"""Connections inside one process: a connector whose far end is played by code, not a server.

``MemoryConnector`` hands the feed a ``Connection`` and the other side a ``MemoryVenue`` that
sends frames, reads the feed's requests and closes with a code, so a feed's whole driver runs in
microseconds without sockets. Fast tests use it; so can a replay or anything that produces frames.
"""

from __future__ import annotations

import math

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from sdk.transport import ConnectionClosed

_Item = bytes | ConnectionClosed


class MemoryConnection:
    """The feed's end: messages the venue sent, in batches; what the feed sends goes to the venue."""

    def __init__(
        self,
        inbox: MemoryObjectReceiveStream[_Item],
        to_self: MemoryObjectSendStream[_Item],
        to_venue: MemoryObjectSendStream[str | None],
    ) -> None:
        self._inbox = inbox
        self._to_self = to_self
        self._to_venue = to_venue
        self._closed: ConnectionClosed | None = None

    async def receive_batch(self) -> list[bytes]:
        if self._closed is not None:
            raise self._closed
        batch: list[bytes] = []
        item = await self._inbox.receive()
        while True:
            if isinstance(item, ConnectionClosed):
                self._closed = item
                break
            batch.append(item)
            try:
                item = self._inbox.receive_nowait()
            except anyio.WouldBlock:
                break
        if not batch:  # closed, with nothing left to deliver
            assert self._closed is not None
            raise self._closed
        return batch

    async def send_text(self, text: str) -> None:
        if self._closed is not None:
            raise self._closed
        await self._to_venue.send(text)

    async def ping(self) -> None:
        """Recorded by the venue as ``None`` among the requests."""
        if self._closed is not None:
            raise self._closed
        await self._to_venue.send(None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is None:
            self._closed = ConnectionClosed(code, reason)
            await self._to_venue.aclose()

    async def abort(self, reason: str) -> None:
        if self._closed is None:
            self._to_self.send_nowait(ConnectionClosed(1006, reason))
            await self._to_venue.aclose()


class MemoryVenue:
    """The venue's end of one in-memory connection."""

    def __init__(self, outbox: MemoryObjectSendStream[_Item], requests: MemoryObjectReceiveStream[str | None]) -> None:
        self._outbox = outbox
        self._requests = requests

    def send(self, *frames: str | bytes) -> None:
        """Queue frames for the feed; frames sent together may arrive in one batch."""
        for frame in frames:
            self._outbox.send_nowait(frame.encode() if isinstance(frame, str) else frame)

    async def receive(self) -> str | None:
        """The feed's next request (None for a transport ping); ``EndOfStream`` once it closed."""
        return await self._requests.receive()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the venue's side, after what was already sent."""
        self._outbox.send_nowait(ConnectionClosed(code, reason))


class MemoryConnector:
    """Opens in-memory connections; ``accept()`` gives the venue's end of each, in order.

    Set ``refusing`` to a reason to make connection attempts fail as a refused TCP connect would.
    """

    def __init__(self) -> None:
        self._venues_in, self._venues_out = anyio.create_memory_object_stream[MemoryVenue](math.inf)
        self.refusing: str | None = None
        self.attempts = 0

    async def connect(self, url: str) -> MemoryConnection:
        self.attempts += 1
        if self.refusing is not None:
            raise ConnectionRefusedError(self.refusing)
        to_feed, inbox = anyio.create_memory_object_stream[_Item](math.inf)
        to_venue, requests = anyio.create_memory_object_stream[str | None](math.inf)
        self._venues_in.send_nowait(MemoryVenue(to_feed.clone(), requests))
        return MemoryConnection(inbox, to_feed, to_venue)

    async def accept(self) -> MemoryVenue:
        """The venue's end of the next connection the feed opens."""
        return await self._venues_out.receive()
