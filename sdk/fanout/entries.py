"""How an event becomes a broker stream entry and back: one encoding for every publisher and reader.

A venue event's entry carries ``k``, its identity (``sdk.event_key``: equal in every collector, so
redundant collectors' copies are stored once), and ``e``, the event as msgpack with its type tag, so
a reader decodes it straight into the typed ``Event`` without knowing who published it. A control
event (a collector's disconnect, a gap it saw) describes one collector: its entry has no identity,
is never de-duplicated, and names the collector in ``c``.
"""

from __future__ import annotations

import msgspec

from schemas.events import ConsolidatedQuote, Event
from sdk.identity import event_key
from sdk.session import CHANNEL_OF

KEY = b"k"
EVENT = b"e"
COLLECTOR = b"c"

CONTROL_CHANNEL = "control"
"""The channel name of the stream where an exchange's control events go."""


class StreamNames(msgspec.Struct, frozen=True):
    """Where events go: ``{prefix}:{exchange}:{channel}``, and ``{prefix}:{exchange}:control``
    for control events. Every stream and de-duplication key of one deployment shares the prefix."""

    prefix: str = "xfeeds"

    def of(self, event: Event) -> str:
        """The stream an event is published to."""
        channel = CHANNEL_OF.get(type(event), CONTROL_CHANNEL)
        return f"{self.prefix}:{event.exchange}:{channel}"

    def exchange_of(self, stream: str) -> str:
        """The exchange a stream of this deployment carries (its name's middle part)."""
        return stream.removeprefix(f"{self.prefix}:").rpartition(":")[0]

    def seen(self, key: str) -> str:
        """The marker that an event with this identity was stored (the de-duplication key)."""
        return f"{self.prefix}:seen:{key}"

    @property
    def pattern(self) -> str:
        """A ``SCAN MATCH`` pattern for every stream of the deployment (markers excluded by type)."""
        return f"{self.prefix}:*"


def identity_of(event: Event) -> str | None:
    """The de-duplication identity of an event, None for what describes one collector only."""
    if type(event) not in CHANNEL_OF:
        return None
    return event_key(event)  # type: ignore[arg-type]  # CHANNEL_OF holds market event types only


def is_published(event: Event) -> bool:
    """Whether an event belongs in the streams: a consolidated quote is one reader's own view."""
    return type(event) is not ConsolidatedQuote


class EntryCodec:
    """Encodes events into entry payloads and decodes them back (reusable msgpack buffers)."""

    __slots__ = ("_decoder", "_encoder")

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder(decimal_format="string")
        self._decoder = msgspec.msgpack.Decoder(Event)

    def encode(self, event: Event) -> bytes:
        return self._encoder.encode(event)

    def decode(self, payload: bytes) -> Event:
        """The event of an entry; ``msgspec.ValidationError``/``DecodeError`` for a foreign entry."""
        return self._decoder.decode(payload)
