"""The contract between the feed core and an exchange adapter.

An adapter describes an exchange (name, default URL, capabilities, symbol mapping) and makes one
``Codec`` per connection. The codec is sans-I/O: it turns subscriptions into frames to send and
received frames into schema events, holding only protocol state. It never touches a socket, a
clock or an event loop, so it can be driven byte by byte from tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from schemas.events import Event
from schemas.subscription import Subscription
from sdk.book import ChecksumScheme
from sdk.capabilities import Capabilities
from sdk.pacing import RequestLimit
from sdk.symbols import SymbolMap

if TYPE_CHECKING:
    from sdk.simulation.simulator import Simulator


class Codec(Protocol):
    """Per-connection protocol state machine of one exchange.

    ``book_checksum`` and ``resume`` are optional: the feed treats a codec without them as one
    whose books carry no checksum and which keeps nothing across reconnects (``sdk.codec.CodecBase``
    provides both defaults).
    """

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Frames that request ``subscriptions`` (already checked against the capabilities)."""
        ...

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Frames that cancel ``subscriptions``."""
        ...

    def decode(self, frame: bytes | str, received_ns: int) -> list[Event]:
        """Events carried by one received frame.

        Must never raise: a frame it cannot understand becomes an ``ErrorEvent`` holding the raw
        text, and the next frame decodes normally. ``received_ns`` is stamped on every event.
        """
        ...

    reconnect_reason: str | None

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        """Events carried by one received frame; may raise on malformed input."""
        ...

    def ping(self) -> str | None:
        """The protocol's keep-alive request, or None to use WebSocket ping frames."""
        ...

    def book_checksum(self, symbol: str) -> ChecksumScheme | None:
        """How ``symbol``'s book is checksummed, or None if it is not (or not yet known)."""
        ...

    def resume(self, previous: Codec) -> None:
        """Carry over from the previous connection's codec what must outlive a reconnect."""
        ...


@dataclass(frozen=True, kw_only=True)
class Adapter:
    """Everything the feed core needs to know about one exchange protocol.

    ``simulator`` builds the exchange's local simulator (keyword options go to its constructor);
    adapters without one leave it None.
    """

    name: str
    default_url: str
    capabilities: Capabilities
    symbols: SymbolMap
    new_codec: Callable[[], Codec]
    simulator: Callable[..., Simulator] | None = None
    request_limit: RequestLimit | None = None
    """The exchange's published limit on client requests; the feed paces its frames to it."""
    tolerates_crossed_books: bool = False
    """The venue documents brief crossed books, so a crossed book is not an integrity failure there."""

    def check(self, subscription: Subscription) -> None:
        """Raise ``UnsupportedSubscription`` if this adapter cannot serve ``subscription``."""
        self.capabilities.check(self.name, subscription)

    def make_simulator(self, **options: Any) -> Simulator:
        """This exchange's simulator; raises LookupError for adapters that ship none."""
        if self.simulator is None:
            raise LookupError(f"adapter {self.name!r} ships no simulator")
        return self.simulator(**options)
