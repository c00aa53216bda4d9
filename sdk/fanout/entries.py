"""How an event becomes a broker stream entry and back: one encoding for every publisher and reader.

An entry carries ``e``, the event as msgpack with its type tag, so a reader decodes it straight into
the typed ``Event`` without knowing who published it. A venue event is stored once by its identity
(``sdk.event_key``, equal in every collector): the server remembers a 12-byte digest of it, short
to send and to keep; a reader that needs the key computes it from the event. A control event (a
collector's disconnect, a gap it saw) describes one collector: it is never de-duplicated, and its
entry names the collector in ``c``.
"""

from __future__ import annotations

from hashlib import blake2b

import msgspec

from schemas.events import ConsolidatedQuote, Event
from sdk.identity import event_key
from sdk.session import CHANNEL_OF

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


IDENTITY_BYTES = 12
"""Digest size of an identity: two different events of one stream share one with a chance of about
2**-96 per pair, far below the venue-side risks documented per adapter."""


def is_venue_event(event: Event) -> bool:
    """Whether an event is the venue's (the same in every collector), not one collector's notice."""
    return type(event) in CHANNEL_OF


def identity_of(event: Event) -> bytes:
    """What the server remembers to refuse a second copy of a venue event; empty for a control
    event, which describes one collector only and is never refused."""
    if not is_venue_event(event):
        return b""
    key = event_key(event)  # type: ignore[arg-type]  # CHANNEL_OF holds market event types only
    return blake2b(key.encode(), digest_size=IDENTITY_BYTES).digest()


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
