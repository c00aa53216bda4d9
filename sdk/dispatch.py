"""The per-frame work between a codec and the event buffer, sans-I/O.

Every received frame passes through here: decoded by the codec, its events handed to the core's
handlers where the core must act (books, acknowledgements, refusals, errors), and its symbol
noted as alive. It is the innermost loop of a feed, kept apart from connection handling so it
can be compiled and measured on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from schemas.events import BookInvalidated, Event
from sdk.contract import Codec, undecodable_frame

Handler = Callable[[Any], Event | None]
"""Acts on one event; may answer with a follow-up event (a book invalidated, resynced)."""


class FrameCounts(Protocol):
    """Where the dispatcher counts what it handled (the feed's public stats)."""

    frames: int
    events: int


class FrameDispatcher:
    """Decodes frames with the connection's codec and dispatches their events.

    A frame the codec raises on becomes one ``ErrorEvent``, so one bad frame costs only itself.
    ``on_invalidated`` hears of every book invalidated on the way (the feed resyncs it);
    ``last_data`` gets each symbol's latest receive time, ``counts`` the frames and events handled.
    """

    def __init__(
        self,
        codec: Codec,
        *,
        handlers: dict[type, Handler],
        on_invalidated: Callable[[BookInvalidated], None],
        last_data: dict[str, int],
        counts: FrameCounts,
    ) -> None:
        self._handlers = handlers
        self._on_invalidated = on_invalidated
        self._last_data = last_data
        self._counts = counts
        self.use(codec)

    def use(self, codec: Codec) -> None:
        """Decode with ``codec`` from now on (each connection has its own)."""
        self._codec = codec
        self._decode_frame = codec.decode_frame

    def decode(self, messages: list[bytes], received_ns: int) -> list[Event]:
        """The events of one read's messages, with the handlers' follow-ups after their cause."""
        decode = self._decode_frame
        handlers = self._handlers
        events: list[Event] = []
        for message in messages:
            try:
                decoded = decode(message, received_ns)
            except Exception as exc:  # malformed input: the contract lets decode_frame raise
                decoded = [undecodable_frame(self._codec, message, exc, received_ns)]
            for event in decoded:
                events.append(event)
                handler = handlers.get(type(event))
                if handler is not None:
                    follow_up = handler(event)
                    if follow_up is not None:
                        events.append(follow_up)
                        if type(follow_up) is BookInvalidated:
                            self._on_invalidated(follow_up)
            if decoded:  # a frame's events concern one symbol: note that it is alive
                symbol = getattr(decoded[-1], "symbol", None)
                if symbol is not None:
                    self._last_data[symbol] = received_ns
        counts = self._counts
        counts.frames += len(messages)
        counts.events += len(events)
        return events
