"""A base for codecs that keeps the contract's promise: ``decode`` never raises.

Adapters implement ``decode_frame`` and may raise from it freely on malformed input (a missing
key, a wrong type, a bad number); the base turns any such failure into an ``ErrorEvent`` that
keeps the raw frame, so one bad frame costs only itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from mypy_extensions import mypyc_attr

from schemas.events import ErrorEvent, Event
from schemas.subscription import Subscription
from sdk.book import ChecksumScheme

if TYPE_CHECKING:
    from sdk.adapter import Codec


def frame_text(frame: bytes | str) -> str:
    """A received frame as text, for error reports (undecodable bytes are replaced)."""
    return frame if isinstance(frame, str) else frame.decode("utf-8", "replace")


@mypyc_attr(allow_interpreted_subclasses=True)  # adapters outside the compiled core subclass it
class CodecBase(ABC):
    """Shared shape of the built-in codecs: error wrapping and request ids."""

    exchange: ClassVar[str]
    """The adapter name error events carry; each codec class sets it."""

    def __init__(self) -> None:
        self._last_request_id = 0
        self.reconnect_reason: str | None = None
        """Set while decoding when the venue asked for a new connection; the session drops this one."""

    def next_request_id(self) -> int:
        """A fresh id for a request, unique on this connection."""
        self._last_request_id += 1
        return self._last_request_id

    def decode(self, frame: bytes | str, received_ns: int) -> list[Event]:
        try:
            return self.decode_frame(frame, received_ns)
        except Exception as exc:  # the contract: no frame may break the stream
            return [self.undecodable(frame, exc, received_ns)]

    def undecodable(self, frame: bytes | str, exc: Exception, received_ns: int) -> ErrorEvent:
        """The ``ErrorEvent`` for a frame ``decode_frame`` raised on."""
        return self.error(f"undecodable frame: {type(exc).__name__}: {exc}", frame, received_ns)

    def error(self, message: str, frame: bytes | str, received_ns: int) -> ErrorEvent:
        """An ``ErrorEvent`` for ``frame`` with this codec's exchange name."""
        return ErrorEvent(exchange=self.exchange, message=message, raw=frame_text(frame), ts_received=received_ns)

    @abstractmethod
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        """Events carried by ``frame``; may raise on malformed input."""

    @abstractmethod
    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]: ...

    @abstractmethod
    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]: ...

    @abstractmethod
    def ping(self) -> str | None: ...

    def book_checksum(self, symbol: str) -> ChecksumScheme | None:
        """No checksum unless the protocol defines one."""
        return None

    def resume(self, previous: Codec) -> None:  # noqa: B027 - a deliberate default: nothing to carry
        """Nothing outlives a connection unless the protocol needs it."""
