"""The exchange-agnostic event types every adapter decodes into.

Every event is a frozen msgspec Struct tagged by its class name in the ``type`` field, so a stream
of events round-trips through JSON (``msgspec.json.encode``/``decode(..., type=Event)``) without
losing which kind each one is. Prices and quantities are ``Decimal`` built from the exchange's own
text; times are integer nanoseconds since the Unix epoch.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from schemas.subscription import Subscription

Side = Literal["buy", "sell"]
"""The taker's side of a trade: ``buy`` lifted an ask, ``sell`` hit a bid."""

OrderType = Literal["market", "limit"]

SystemState = Literal["online", "maintenance", "cancel_only", "post_only", "limit_only", "unknown"]
"""Trading state an exchange announces; ``unknown`` when the exchange sends a state not listed."""


class _Event(msgspec.Struct, frozen=True, tag_field="type", tag=True, kw_only=True, gc=False):
    """Fields every event has.

    Events hold only numbers, text and other immutable values, so they can never form a reference
    cycle: ``gc=False`` keeps them out of the cycle collector, which a busy feed would otherwise
    keep waking.

    ``ts_exchange`` is the exchange's own time for the event (None where it gives none);
    ``ts_received`` is when this process received the frame that carried it.
    """

    exchange: str
    ts_exchange: int | None = None
    ts_received: int


class _SymbolEvent(_Event, frozen=True, kw_only=True):
    """An event about one instrument, named in the shared ``BASE/QUOTE`` form."""

    symbol: str


class Trade(_SymbolEvent, frozen=True, kw_only=True):
    """One fill. ``side`` is the taker's side (None if the exchange does not say)."""

    price: Decimal
    qty: Decimal
    side: Side | None
    order_type: OrderType | None = None
    trade_id: str | None = None


class BookLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level. ``qty`` zero in an update deletes the level.

    ``republished`` marks a level the exchange re-sent only to refill the subscribed depth after
    another one left it (Kraken's ``r`` flag); it is applied like any other level.
    """

    price: Decimal
    qty: Decimal
    republished: bool = False


class _BookEvent(_SymbolEvent, frozen=True, kw_only=True):
    """Levels of one book subscribed to ``depth``; ``checksum`` is the exchange's checksum of the
    book once these levels are in place, where it sends one."""

    depth: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    checksum: int | None = None


class BookSnapshot(_BookEvent, frozen=True, kw_only=True):
    """The whole book up to ``depth``: bids best (highest) first, asks best (lowest) first."""


class BookUpdate(_BookEvent, frozen=True, kw_only=True):
    """Level changes to apply in wire order, then cut each side to the subscribed depth."""


class Ticker(_SymbolEvent, frozen=True, kw_only=True):
    """Top of book plus rolling 24-hour statistics."""

    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    last_qty: Decimal | None = None
    volume_24h: Decimal
    vwap_24h: Decimal | None = None
    low_24h: Decimal
    high_24h: Decimal
    open_24h: Decimal | None = None
    trades_24h: int | None = None


class Quote(_SymbolEvent, frozen=True, kw_only=True):
    """Best bid and ask with their sizes."""

    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal


class ConsolidatedQuote(_SymbolEvent, frozen=True, kw_only=True):
    """The best bid and ask of one symbol across the venues of a merged stream, read from their
    maintained books; each side names its venue (``exchange`` is ``consolidated``: no one venue).

    A side is None while no venue has a valid book with a level on it. ``crossed`` (the best bid
    above the best ask) and ``locked`` (equal) are reported as they are, never smoothed over: they
    are the arbitrage, or a stale book, that a consumer of several venues must see.
    """

    bid: Decimal | None
    bid_qty: Decimal | None
    bid_venue: str | None
    ask: Decimal | None
    ask_qty: Decimal | None
    ask_venue: str | None
    crossed: bool
    locked: bool


class Candle(_SymbolEvent, frozen=True, kw_only=True):
    """An OHLC candle; exchanges re-send the running candle as trades arrive.

    ``start`` and ``end`` bound the candle's interval in ns; ``interval`` is the requested one
    (``1m``, ``1h``, ...).
    """

    interval: str
    start: int
    end: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    vwap: Decimal | None = None
    trades: int | None = None


class Instrument(_SymbolEvent, frozen=True, kw_only=True):
    """Reference data for one tradable pair: its assets, state, precisions and minimums.

    ``price_precision``/``qty_precision`` are the decimal places the exchange prints (and
    checksums) prices and quantities with.
    """

    base: str
    quote: str
    status: str
    price_precision: int
    qty_precision: int
    price_increment: Decimal | None = None
    qty_increment: Decimal | None = None
    qty_min: Decimal | None = None
    cost_min: Decimal | None = None


class Status(_Event, frozen=True, kw_only=True):
    """The exchange's trading state, sent on connect and whenever it changes."""

    state: SystemState
    detail: str = ""


class Subscribed(_SymbolEvent, frozen=True, kw_only=True):
    """The exchange confirmed a subscription; ``warnings`` carries any notice it attached."""

    subscription: Subscription
    warnings: tuple[str, ...] = ()


class Unsubscribed(_SymbolEvent, frozen=True, kw_only=True):
    """The exchange confirmed an unsubscription."""

    subscription: Subscription


class SubscriptionError(_Event, frozen=True, kw_only=True):
    """The exchange refused a (un)subscription; ``message`` is the exchange's own text."""

    symbol: str | None = None
    subscription: Subscription | None = None
    message: str


class SubscriptionStale(_SymbolEvent, frozen=True, kw_only=True):
    """No data for ``subscription`` for ``silent_for`` ns while the connection itself is alive
    (heartbeats still come): the exchange may have stopped the stream without saying so."""

    subscription: Subscription
    silent_for: int


class ErrorEvent(_Event, frozen=True, kw_only=True):
    """A frame that could not be decoded, or an error the exchange reported.

    ``raw`` is the frame's text, cut to its first 4,096 characters when longer, and ``raw_size`` the
    whole frame's size in bytes: enough to see what was received without holding megabyte frames.
    """

    message: str
    raw: str = ""
    raw_size: int = 0
    symbol: str | None = None


class BookInvalidated(_SymbolEvent, frozen=True, kw_only=True):
    """The maintained book no longer matches the exchange's; a resync has been requested.

    ``reason`` is ``checksum`` (with the exchange's ``expected`` and the locally ``computed``
    value), ``crossed`` (best bid at or above best ask), ``unverifiable`` (the exchange checksums
    its books but a checksum, or what it needs such as the pair's precision, is missing),
    ``dropped`` (a slow consumer's buffer overflowed and this book's events were among those
    dropped), ``stale`` (the book's stream stopped while the connection lived) or ``malformed``
    (the codec refused a book message whole, so the book is behind the exchange's). ``depth`` is
    the subscribed depth of the book concerned (a symbol may be subscribed at several).
    """

    reason: Literal["checksum", "crossed", "unverifiable", "dropped", "stale", "malformed"]
    depth: int | None = None
    expected: int | None = None
    computed: int | None = None


class BookResynced(_SymbolEvent, frozen=True, kw_only=True):
    """A fresh snapshot replaced an invalidated book (of subscribed ``depth``); it is valid again."""

    depth: int | None = None


class EventsDropped(_Event, frozen=True, kw_only=True):
    """The consumer fell behind and, by the feed's ``drop_oldest`` policy, the oldest ``count``
    buffered events were discarded (``total`` so far on this feed)."""

    count: int
    total: int


class RecordingGap(_Event, frozen=True, kw_only=True):
    """The feed's recording lost ``dropped`` records here (``total`` so far), because the disk could
    not keep up or could not be written (``reason``); the feed itself lost nothing."""

    dropped: int
    total: int
    reason: str


class Disconnected(_Event, frozen=True, kw_only=True):
    """The connection closed; the feed will reconnect unless it says ``final``.

    ``connection`` says which, in a feed spread over several connections (numbered from 0 in the
    order they opened; the others stay up); always 0 for a feed of one connection.
    """

    reason: str
    final: bool = False
    connection: int = 0


class Reconnected(_Event, frozen=True, kw_only=True):
    """A new connection is up and the active subscriptions were sent again.

    ``downtime`` is how long the feed had no connection, in ns; ``connection`` which connection
    came back, as in ``Disconnected``.
    """

    attempt: int
    downtime: int
    connection: int = 0


class StreamGap(_Event, frozen=True, kw_only=True):
    """Events of ``stream`` (a broker stream, e.g. Redis) were lost on their way to this reader.

    ``reason`` says where: ``trimmed`` (the stream's length cap removed entries the reader's group
    had not read, or that a dead consumer held), ``broker_restarted`` (the server came back without
    what it had not persisted), ``publisher_dropped`` (a publisher could not reach the server and
    its bounded buffer overflowed; ``collector`` names it, and a redundant collector may have
    published what it lost). ``count`` is how many events were lost, None where it cannot be known.
    """

    stream: str
    reason: Literal["trimmed", "broker_restarted", "publisher_dropped"]
    count: int | None = None
    collector: str = ""


MarketEvent = Trade | BookSnapshot | BookUpdate | Ticker | Quote | ConsolidatedQuote | Candle | Instrument
ControlEvent = (
    Status
    | BookInvalidated
    | BookResynced
    | Subscribed
    | Unsubscribed
    | SubscriptionError
    | SubscriptionStale
    | ErrorEvent
    | EventsDropped
    | RecordingGap
    | StreamGap
    | Disconnected
    | Reconnected
)
Event = MarketEvent | ControlEvent
"""Everything a feed yields."""
