"""msgspec structs mirroring Kraken's v1 public WebSocket messages.

Data frames are JSON arrays (``[channelID, payload..., channelName, pair]``) and decode as lists;
every other message is an object tagged by its ``event`` field. Client requests live here too so
the simulator speaks exactly the same wire.
"""

from __future__ import annotations

import msgspec


class SubscriptionOptions(msgspec.Struct, omit_defaults=True):
    name: str
    depth: int | None = None
    interval: int | None = None


class SystemStatus(msgspec.Struct, tag_field="event", tag="systemStatus"):
    status: str
    version: str = ""
    connectionID: int | None = None  # noqa: N815 - wire name


class Heartbeat(msgspec.Struct, tag_field="event", tag="heartbeat"):
    pass


class Pong(msgspec.Struct, tag_field="event", tag="pong", omit_defaults=True):
    reqid: int | None = None


class SubscriptionStatus(msgspec.Struct, tag_field="event", tag="subscriptionStatus", omit_defaults=True):
    status: str
    pair: str | None = None
    channelName: str | None = None  # noqa: N815 - wire name
    channelID: int | None = None  # noqa: N815 - wire name
    reqid: int | None = None
    subscription: SubscriptionOptions | None = None
    errorMessage: str | None = None  # noqa: N815 - wire name


class Error(msgspec.Struct, tag_field="event", tag="error", omit_defaults=True):
    errorMessage: str  # noqa: N815 - wire name
    reqid: int | None = None


LevelRow = tuple[str, ...]
"""``[price, volume, timestamp]`` or ``[price, volume, timestamp, "r"]`` in a book payload; the
codec checks there are at least three (and ignores any later field, as Kraken may add some).

Texts, not structs: numbers are decoded as text and built into Decimals once in the codec (cheaper
than msgspec's Decimal decoding; v1 always sends them as strings), and a compiled codec indexes a
tuple directly where a struct's fields would each be a generic attribute lookup."""

FillRow = tuple[str, ...]
"""``[price, volume, time, side, orderType, misc]`` in a trade payload (``misc`` may be absent); the
codec checks there are at least five."""


class DictPayload(msgspec.Struct, gc=False):
    """Object payloads: book snapshots (``as``/``bs``), book updates (``a``/``b``/``c``) and
    tickers (``a``, ``b``, ``c``, ``v``, ``p``, ``t``, ``l``, ``h``, ``o``).

    msgspec allows one object type per union, so the book and ticker shapes share this struct:
    a book side is a list of level rows, a ticker's ``a``/``b`` a flat list of scalars. Like the
    row structs, it only ever holds freshly decoded values, so it needs no cycle collection.
    """

    as_: list[LevelRow] | None = msgspec.field(default=None, name="as")
    bs: list[LevelRow] | None = None
    a: list[LevelRow | str | int] | None = None
    b: list[LevelRow | str | int] | None = None
    c: str | list[str] | None = None
    v: list[str] | None = None
    p: list[str] | None = None
    t: list[int] | None = None
    l: list[str] | None = None  # noqa: E741 - wire name
    h: list[str] | None = None
    o: list[str] | None = None


DataItem = int | str | DictPayload | list[FillRow | str | int]
"""One element of a data frame ``[channelID, payload..., channelName, pair]``: trade payloads are
lists of fill rows; spread and ohlc payloads flat lists of scalars."""

ServerMessage = list[DataItem] | SystemStatus | Heartbeat | Pong | SubscriptionStatus | Error


class Subscribe(msgspec.Struct, tag_field="event", tag="subscribe", omit_defaults=True):
    subscription: SubscriptionOptions
    pair: list[str] | None = None
    reqid: int | None = None


class Unsubscribe(msgspec.Struct, tag_field="event", tag="unsubscribe", omit_defaults=True):
    subscription: SubscriptionOptions
    pair: list[str] | None = None
    reqid: int | None = None


class Ping(msgspec.Struct, tag_field="event", tag="ping", omit_defaults=True):
    reqid: int | None = None


ClientMessage = Subscribe | Unsubscribe | Ping
