"""The contract between the feed core and an exchange adapter, whole, in one place.

An ``Adapter`` describes an exchange (name, default URL, capabilities, symbol mapping) and makes
one ``Codec`` per connection. The codec is sans-I/O: it turns subscriptions into frames to send
and received frames into schema events, holding only protocol state. It never touches a socket, a
clock or an event loop, so it can be driven frame by frame from tests. A ``ChecksumScheme`` is how
a codec tells the book engine to verify the venue's book checksums.

The rules, which the feed relies on:

- ``decode_frame`` may raise on malformed input; the feed alone turns the exception into one
  ``ErrorEvent`` (``undecodable_frame``) and decodes the next frame normally.
- Every event carries ``exchange`` from the adapter's name, so an adapter relabelled with
  ``dataclasses.replace`` relabels its events too.
- A codec asks for a new connection by setting ``reconnect_reason`` while decoding; the feed reads
  it after each batch of received frames.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from mypy_extensions import mypyc_attr

from schemas.events import ErrorEvent, Event
from schemas.subscription import Subscription
from sdk.capabilities import Capabilities
from sdk.pacing import RequestLimit
from sdk.symbols import SymbolMap

if TYPE_CHECKING:
    from sdk.simulation.simulator import Simulator
    from sdk.trading_contract import TradingAdapter


class ChecksumScheme(Protocol):
    """How one exchange checksums a book; codecs provide it, the book engine applies it."""

    levels: int
    """How many levels per side the checksum covers."""

    def fragment(self, price: Decimal, qty: Decimal) -> str:
        """One level's contribution, computed when the level first counts toward a checksum."""
        ...

    def checksum(self, asks: bytes, bids: bytes) -> int:
        """The checksum from the best ``levels`` fragments of each side, best first, concatenated."""
        ...


RAW_EXCERPT = 4096
"""The most characters of a frame an ``ErrorEvent`` keeps in ``raw``: enough to see what went wrong,
while a buffer of error events for megabyte frames stays small."""

MESSAGE_LIMIT = 1024
"""The most characters of an ``ErrorEvent`` message taken from an exception or the venue's own text."""


def frame_text(frame: bytes | str) -> str:
    """A received frame as text, for error reports (undecodable bytes are replaced)."""
    return frame if isinstance(frame, str) else frame.decode("utf-8", "replace")


def frame_size(frame: bytes | str) -> int:
    """A received frame's size in bytes, as it came over the wire."""
    if isinstance(frame, bytes):
        return len(frame)
    return len(frame) if frame.isascii() else len(frame.encode("utf-8", "surrogatepass"))


def frame_error(exchange: str, message: str, frame: bytes | str, received_ns: int) -> ErrorEvent:
    """An ``ErrorEvent`` about one frame. Every such event is made here, bounded: ``raw`` keeps the
    frame's first ``RAW_EXCERPT`` characters and ``raw_size`` its full size, which the message
    states when the frame was cut, so a venue's megabyte frames cost kilobytes while the user reads them.
    """
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "…"
    size = frame_size(frame)
    head = frame_text(frame[: 4 * RAW_EXCERPT + 1])  # no character takes more than four bytes
    if len(head) > RAW_EXCERPT:
        message = f"{message} (frame of {size:,} bytes; raw keeps its first {RAW_EXCERPT:,} characters)"
    return ErrorEvent(
        exchange=exchange, message=message, raw=head[:RAW_EXCERPT], raw_size=size, ts_received=received_ns
    )


@mypyc_attr(allow_interpreted_subclasses=True)  # compiled with the built-in codecs; others subclass it in Python
class Codec(ABC):
    """Per-connection protocol state machine of one exchange; every codec subclasses it.

    Subclasses implement ``decode_frame``, ``subscribe`` and ``unsubscribe``; the other methods
    have defaults that suit a venue without application pings, book checksums or state that
    outlives a connection.
    """

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        self.exchange = exchange
        """The adapter's name, which every event this codec makes carries."""
        self.symbols = symbols
        """The adapter's mapping between shared symbols and the venue's."""
        self.reconnect_reason: str | None = None
        """Set while decoding to ask the feed for a new connection, saying why."""
        self._last_request_id = 0

    def next_request_id(self) -> int:
        """A fresh id for a request, unique on this connection."""
        self._last_request_id += 1
        return self._last_request_id

    def error(self, message: str, frame: bytes | str, received_ns: int) -> ErrorEvent:
        """An ``ErrorEvent`` for a frame the codec deliberately reports (an unknown message...),
        bounded as ``frame_error`` bounds it."""
        return frame_error(self.exchange, message, frame, received_ns)

    @abstractmethod
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        """Events carried by one received frame, each stamped with ``received_ns``.

        May raise on malformed input (a missing key, a wrong type, a bad number): the feed reports
        that frame as one ``ErrorEvent`` and the next frame decodes normally.
        """

    @abstractmethod
    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Frames that request ``subscriptions`` (already checked against the capabilities)."""

    @abstractmethod
    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Frames that cancel ``subscriptions``."""

    def ping(self) -> str | None:
        """The protocol's keep-alive request; None (the default) uses WebSocket ping frames."""
        return None

    def book_checksum(self, symbol: str) -> ChecksumScheme | None:
        """How ``symbol``'s book is checksummed; None (the default) if it is not, or not yet known."""
        return None

    def resume(self, previous: Codec) -> None:  # noqa: B027 - a deliberate default: nothing to carry
        """Carry over from the previous connection's codec what must outlive a reconnect."""


def undecodable_frame(codec: Codec, frame: bytes | str, exc: Exception, received_ns: int) -> ErrorEvent:
    """The one ``ErrorEvent`` a feed delivers for a frame ``codec.decode_frame`` raised on."""
    return codec.error(f"undecodable frame: {type(exc).__name__}: {exc}", frame, received_ns)


@mypyc_attr(native_class=False)  # an ordinary dataclass: ``dataclasses.replace`` and subclassing work
@dataclass(frozen=True, kw_only=True)
class Adapter:
    """Everything the feed core needs to know about one exchange protocol."""

    name: str
    """The name users connect by; every event the adapter's codecs make carries it."""
    default_url: str
    capabilities: Capabilities
    symbols: SymbolMap
    codec: Callable[[str, SymbolMap], Codec]
    """Makes one connection's codec from the adapter's name and symbols (usually the codec class)."""
    request_limit: RequestLimit | None = None
    """The exchange's published limit on client requests; the feed paces its frames to it."""
    subscriptions_per_connection: int | None = None
    """The venue's published limit on subscriptions one connection may hold; a feed spreads the
    rest over more connections. None where the venue publishes none."""
    simulator: str | None = None
    """``"module:attribute"`` of the exchange's simulator class, imported only when one is made."""
    tolerates_crossed_books: bool = False
    """The venue documents that its book may cross briefly; a crossed book is then not an error."""
    trading: TradingAdapter | None = None
    """The venue's private channels and order entry (``sdk.account``); None: market data only."""

    def new_codec(self) -> Codec:
        """A codec for a new connection."""
        return self.codec(self.name, self.symbols)

    def check(self, subscription: Subscription) -> None:
        """Raise ``UnsupportedSubscription`` if this adapter cannot serve ``subscription``."""
        self.capabilities.check(self.name, subscription)

    def make_simulator(self, **options: Any) -> Simulator:
        """This exchange's simulator (keyword options go to its constructor).

        Raises LookupError for adapters that ship none.
        """
        if self.simulator is None:
            raise LookupError(f"adapter {self.name!r} ships no simulator")
        module_name, _, attribute = self.simulator.partition(":")
        simulator: Callable[..., Simulator] = getattr(importlib.import_module(module_name), attribute)
        return simulator(**options)
