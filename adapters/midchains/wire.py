"""msgspec structs mirroring Midchains' WebSocket messages, documented and assumed.

Every server message is an object tagged by ``type``. Prices and quantities arrive as strings or
numbers and decode exactly either way as Decimal fields, checked as they decode (``sdk.wiretext``);
entry ids are integers beyond 2^53 and stay exact Python ints (some feeds send them as strings).
"""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

import msgspec

from sdk.wiretext import check_number, check_quantity


class Entry(msgspec.Struct, gc=False):
    """One order-level book entry: ``act`` A(dd), U(pdate) or R(emove), keyed by ``id``."""

    act: str
    id: int | str
    side: str | None = None
    price: Decimal | None = None
    qty: Decimal | None = None
    time: str | int | None = None
    ioi: bool = False
    src: str | None = None
    mpid: str | None = None
    key: str | None = None
    priority: int | None = None

    def __post_init__(self) -> None:
        """Impossible numbers fail the decode of the whole message, before any entry is applied."""
        if self.price is not None:
            check_number(self.price)
        if self.qty is not None:
            check_quantity(self.qty)


class BookMessage(msgspec.Struct, tag_field="type", tag="book", gc=False):
    security: str
    books: list[Entry]
    snapshot: bool = False
    seq: int | None = None


class TradeMessage(msgspec.Struct, tag_field="type", tag="trade", gc=False):
    security: str
    price: Decimal
    qty: Decimal
    matchid: str
    time: str | int | None = None
    maker_side: str | None = None
    src: str | None = None

    def __post_init__(self) -> None:
        check_number(self.price)
        check_quantity(self.qty)


class RequestItem(msgspec.Struct, gc=False):
    msg: str
    security: str
    dest: str


class SubscribeReply(msgspec.Struct, tag_field="type", tag="subscribe", gc=False):
    result: str
    request: list[RequestItem] = []


class UnsubscribeReply(msgspec.Struct, tag_field="type", tag="unsubscribe", gc=False):
    result: str
    request: list[RequestItem] = []


class ErrorReply(msgspec.Struct, tag_field="type", tag="error", gc=False):
    result: str


class Heartbeat(msgspec.Struct, tag_field="type", tag="heartbeat", gc=False):
    time: str | int | None = None


class OpenNotice(msgspec.Struct, tag_field="type", tag="open", gc=False):
    time: str | int | None = None


class Envelope(msgspec.Struct, gc=False):
    """What every server message has: its ``type``, read first to choose the decoder (or to skip
    a type this side does not read: market data and trading share one socket)."""

    type: str


ServerMessage = BookMessage | TradeMessage | SubscribeReply | UnsubscribeReply | ErrorReply | Heartbeat | OpenNotice

MARKET_TYPES: frozenset[str] = frozenset(
    kind.__struct_config__.tag for kind in get_args(ServerMessage) if isinstance(kind.__struct_config__.tag, str)
)
"""The ``type`` of every message the market codec reads; the others (the trading side's) it skips."""


class Request(msgspec.Struct, gc=False):
    """What a client sends: ``{"type":"subscribe","request":[{"msg":"book","security":...,"dest":"CROX"}]}``."""

    type: str
    request: list[RequestItem]
