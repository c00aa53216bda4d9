"""What a simulator speaks on one connection, without a socket: messages in, frames out.

A ``Session`` is one exchange's protocol for one client: it turns a client message into a
``Reply`` and a market step into frames, and says what its heartbeat, status and refusal frames
look like. It never sends, sleeps or reads a clock (time comes in as ``now_ns``), so the server
can apply every fault switch the same way for every exchange, and a benchmark can render frames
by calling it directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import NamedTuple

from sdk.simulation.market import MarketStep, SyntheticMarket

CHECKSUM_FLIP = 0x5A5A5A5A
"""XORed into a checksum to make it wrong."""


class Outgoing(NamedTuple):
    text: str
    ack: bool
    """The frame confirms a subscription: what the server withholds or delays on request."""


@dataclass
class Reply:
    """A session's answer to one client message: frames in sending order, acknowledgements marked."""

    outgoing: list[Outgoing] = field(default_factory=list)
    hang_up: bool = False
    """Cut the connection instead of sending anything: the message was acted on, its answer lost."""
    close_after: bool = False
    """Close the connection once the frames are sent: the venue ends the session (a logout, say)."""

    def ack(self, frame: str) -> None:
        """Add the confirmation of a subscription."""
        self.outgoing.append(Outgoing(frame, ack=True))

    def send(self, frame: str) -> None:
        """Add any other frame: a refusal, an unsubscribe confirmation, a pong, a snapshot, data."""
        self.outgoing.append(Outgoing(frame, ack=False))

    @property
    def frames(self) -> list[str]:
        """Every frame, as the client receives them when no fault is switched on."""
        return [part.text for part in self.outgoing]


class Session(ABC):
    """One client connection of one exchange, over the simulator's shared market."""

    def __init__(self, market: SyntheticMarket) -> None:
        self.market = market

    @abstractmethod
    def on_open(self, now_ns: int) -> list[str]:
        """The frames greeting a new connection (Kraken sends its system status, say)."""

    @abstractmethod
    def on_message(self, data: bytes, now_ns: int) -> Reply:
        """The answer to one client message; subscriptions it makes take effect at once."""

    @abstractmethod
    def refuse(self, data: bytes, reason: str, now_ns: int) -> list[str] | None:
        """The venue's refusal of every subscription in ``data`` with ``reason``, changing nothing.

        None when ``data`` subscribes to nothing (it is then answered by ``on_message``).
        """

    @abstractmethod
    def on_market(self, steps: list[MarketStep]) -> list[str]:
        """What the client's subscriptions make of one market step (none while the market is paused)."""

    @abstractmethod
    def heartbeat(self, now_ns: int) -> str | None:
        """The frame to send after an idle interval, or None when none is due."""

    def closing(self, now_ns: int) -> str | None:
        """Why the venue closes this connection now (a login deadline passed, say), or None to keep it."""
        return None

    def status(self, state: str) -> str | None:
        """The frame announcing the exchange's trading state, or None if the protocol has none."""
        return None

    def corrupt_checksum(self, frame: str, symbol: str) -> str | None:
        """``frame`` with a wrong checksum if it is a checksummed book message of ``symbol``, else None."""
        return None


def flip_number_after(frame: str, marker: str) -> str:
    """``frame`` with the decimal number right after the last ``marker`` XORed with ``CHECKSUM_FLIP``."""
    head, found, tail = frame.rpartition(marker)
    digits = len(tail) - len(tail.lstrip("0123456789"))
    if not found or not digits:
        raise ValueError(f"no number after {marker!r} in {frame[:80]!r}")
    return f"{head}{marker}{int(tail[:digits]) ^ CHECKSUM_FLIP}{tail[digits:]}"
