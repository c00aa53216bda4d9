"""msgspec structs mirroring Kraken's v2 public WebSocket messages (``wss://ws.kraken.com/v2``).

Every message is an object: channel pushes carry ``channel``/``type``/``data`` and decode in one
pass as a union tagged by ``channel``; method responses (``method``/``success``/``result`` or
``error``) have no ``channel`` and are decoded as ``Response``. Numbers are JSON numbers; as
``Decimal`` fields msgspec reads them from their text, exactly.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from schemas.events import BookLevel, OrderType, Side


class Result(msgspec.Struct, gc=False):
    """The ``result`` of a (un)subscribe acknowledgement: the subscription, echoed."""

    channel: str
    symbol: str | None = None
    depth: int | None = None
    interval: int | None = None
    event_trigger: str | None = None
    snapshot: bool | None = None
    warnings: list[str] = []


class BookData(msgspec.Struct, gc=False):
    """Levels (``{"price": ..., "qty": ...}``) decode straight into the shared ``BookLevel``,
    which has exactly that shape: no per-level copy on the busiest channel."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    checksum: int
    timestamp: str | None = None


class TradeData(msgspec.Struct, gc=False):
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    ord_type: OrderType
    trade_id: int
    timestamp: str


class TickerData(msgspec.Struct, gc=False):
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal
    low: Decimal
    high: Decimal
    change: Decimal
    change_pct: Decimal
    trades: int | None = None
    timestamp: str | None = None


class OhlcData(msgspec.Struct, gc=False):
    symbol: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    vwap: Decimal
    trades: int
    volume: Decimal
    interval_begin: str
    interval: int
    timestamp: str | None = None


class StatusData(msgspec.Struct, gc=False):
    system: str
    version: str = ""
    api_version: str = ""
    connection_id: int | None = None


class Pair(msgspec.Struct, gc=False):
    symbol: str
    base: str
    quote: str
    status: str
    price_precision: int
    qty_precision: int
    price_increment: Decimal | None = None
    qty_increment: Decimal | None = None
    qty_min: Decimal | None = None
    cost_min: Decimal | None = None


class InstrumentData(msgspec.Struct, gc=False):
    pairs: list[Pair] = []


class BookMessage(msgspec.Struct, tag_field="channel", tag="book", gc=False):
    type: str
    data: list[BookData]


class TradeMessage(msgspec.Struct, tag_field="channel", tag="trade", gc=False):
    type: str
    data: list[TradeData]


class TickerMessage(msgspec.Struct, tag_field="channel", tag="ticker", gc=False):
    type: str
    data: list[TickerData]


class OhlcMessage(msgspec.Struct, tag_field="channel", tag="ohlc", gc=False):
    type: str
    data: list[OhlcData]
    timestamp: str | None = None


class StatusMessage(msgspec.Struct, tag_field="channel", tag="status", gc=False):
    data: list[StatusData]
    type: str = "update"


class InstrumentMessage(msgspec.Struct, tag_field="channel", tag="instrument", gc=False):
    type: str
    data: InstrumentData


class Heartbeat(msgspec.Struct, tag_field="channel", tag="heartbeat", gc=False):
    pass


ChannelMessage = (
    BookMessage | TradeMessage | TickerMessage | OhlcMessage | StatusMessage | InstrumentMessage | Heartbeat
)


class Response(msgspec.Struct, gc=False):
    """A reply to a request: an acknowledgement (``result``), a refusal (``error``), a pong."""

    method: str
    success: bool | None = None
    result: Result | None = None
    error: str | None = None
    symbol: str | None = None
    req_id: int | None = None


class Params(msgspec.Struct, omit_defaults=True, gc=False):
    channel: str
    symbol: list[str] | None = None
    depth: int | None = None
    interval: int | None = None
    event_trigger: str | None = None
    snapshot: bool | None = None


class Request(msgspec.Struct, omit_defaults=True, gc=False):
    """What a client sends: ``subscribe``, ``unsubscribe`` or ``ping``."""

    method: str
    params: Params | None = None
    req_id: int | None = None
