"""Sans-I/O codec for Kraken's v1 public WebSocket protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec

from adapters.kraken_common.checksum import KrakenChecksum
from adapters.kraken_common.status import system_status
from adapters.kraken_v1.channels import (
    DEFAULT_BOOK_DEPTH,
    candle_interval,
    subscription_from_wire,
    wire_options,
)
from adapters.kraken_v1.wire import (
    DataItem,
    DictPayload,
    Error,
    FillRow,
    Heartbeat,
    LevelRow,
    Ping,
    Pong,
    ServerMessage,
    Subscribe,
    SubscriptionStatus,
    SystemStatus,
    Unsubscribe,
)
from schemas.events import (
    BookLevel,
    BookSnapshot,
    Candle,
    Event,
    OrderType,
    Quote,
    Side,
)
from schemas.subscription import Subscription
from sdk.contract import Codec
from sdk.event_classes import BOOK_LEVEL, BOOK_UPDATE, TICKER, TRADE
from sdk.memo import Memo
from sdk.requests import RequestTracker
from sdk.symbols import SymbolMap
from sdk.wiretext import WireValueError, seconds_text_to_ns, wire_decimal, wire_quantity

_MAX_ROUTES: Final = 256
"""Distinct channel names remembered at once (garbage names cannot grow the memo without bound)."""
_CHECKSUM: Final = KrakenChecksum()
"""v1 numbers arrive as text, so the checksum uses each Decimal exactly as received."""
_SIDES: Final[dict[str, Side]] = {"b": "buy", "s": "sell"}
_ORDER_TYPES: Final[dict[str, OrderType]] = {"m": "market", "l": "limit"}

_DictPayload: Final = DictPayload
"""Tested for every data frame: a C static once compiled (see ``sdk/event_classes.py``)."""

DataHandler = Callable[[list[Any], int | None, str, int], list[Event]]
"""Decodes one data frame's payloads given its channel option (book depth, candle minutes),
symbol and receive time."""


class KrakenV1Codec(Codec):
    """Turns shared subscriptions into v1 requests and v1 frames into schema events.

    v1 acknowledges each pair of a request with the subscription echoed, so requests are tracked
    by the subscription they carry.
    """

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__(exchange, symbols)
        self._symbol_of = symbols.from_wire
        self._requests: RequestTracker[Subscription] = RequestTracker(exchange)
        self._decoder = msgspec.json.Decoder(ServerMessage)
        self._encoder = msgspec.json.Encoder()
        self._data: dict[str, DataHandler] = {
            "trade": self._trades,
            "book": self._book,
            "ticker": self._ticker,
            "spread": self._spread,
            "ohlc": self._ohlc,
        }
        self._routes: Memo[tuple[DataHandler, int | None]] = Memo(self._route, limit=_MAX_ROUTES)

    # -- requests ---------------------------------------------------------------------------

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return self._frames(Subscribe, subscriptions)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return self._frames(Unsubscribe, subscriptions)

    def ping(self) -> str:
        return self._encoder.encode(Ping(reqid=self.next_request_id())).decode()

    def book_checksum(self, symbol: str) -> KrakenChecksum:
        return _CHECKSUM

    def _frames(self, kind: type[Subscribe] | type[Unsubscribe], subscriptions: Sequence[Subscription]) -> list[str]:
        """One frame per distinct channel option, listing all of its pairs (Kraken's batching)."""
        pairs_by_options: dict[bytes, tuple[Any, list[str]]] = {}
        for subscription in subscriptions:
            self._requests.sent(subscription, [subscription], unsubscribe=kind is Unsubscribe)
            options = wire_options(subscription)
            key = self._encoder.encode(options)
            pairs = pairs_by_options.setdefault(key, (options, []))[1]
            pair = self.symbols.to_wire(subscription.symbol)
            if pair not in pairs:
                pairs.append(pair)
        return [
            self._encoder.encode(kind(subscription=options, pair=pairs, reqid=self.next_request_id())).decode()
            for options, pairs in pairs_by_options.values()
        ]

    # -- frames -----------------------------------------------------------------------------

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        message = self._decoder.decode(frame)
        if type(message) is list:  # data frames: [channelID, payload..., channelName, pair]
            if len(message) < 4:
                raise WireValueError("a data frame has a channel id, payloads, channel name and pair")
            channel_name, pair = message[-2], message[-1]
            if type(channel_name) is not str or type(pair) is not str:
                raise WireValueError("channel name and pair must be strings")
            handler, option = self._routes[channel_name]
            return handler(message[1:-2], option, self._symbol_of(pair), received_ns)
        if type(message) is SubscriptionStatus:
            return self._subscription_status(message, frame, received_ns)
        if type(message) is SystemStatus:
            return [system_status(self.exchange, message.status, message.version, received_ns)]
        if type(message) is Error:
            return [self.error(f"exchange error: {message.errorMessage}", frame, received_ns)]
        assert type(message) in (Heartbeat, Pong)
        return []

    def _route(self, channel_name: str) -> tuple[DataHandler, int | None]:
        """The handler and option of a channel name (``book-10`` -> book handler, 10)."""
        kind, _, option = channel_name.partition("-")
        handler = self._data.get(kind)
        if handler is None:
            raise WireValueError(f"unknown channel {channel_name!r}")
        if option and not option.isdigit():
            raise WireValueError(f"unknown channel option in {channel_name!r}")
        return handler, int(option) if option else None

    def _subscription_status(self, message: SubscriptionStatus, frame: bytes | str, received_ns: int) -> list[Event]:
        symbol = self.symbols.from_wire(message.pair) if message.pair else None
        echoed = (
            subscription_from_wire(message.subscription, symbol)
            if message.subscription is not None and symbol is not None
            else None
        )
        status = message.status
        if status == "error":
            refusal = message.errorMessage or "subscription refused without a reason"
            return [*self._requests.refused(echoed, refusal, received_ns, symbol=symbol, echoed=echoed)]
        if echoed is not None and status in ("subscribed", "unsubscribed"):
            return self._requests.acknowledged(echoed, received_ns, unsubscribe=status == "unsubscribed", echoed=echoed)
        return [self.error(f"unexpected subscription status {status!r}", frame, received_ns)]

    # -- data channels ----------------------------------------------------------------------

    def _trades(self, payloads: list[DataItem], option: int | None, symbol: str, received_ns: int) -> list[Event]:
        return [
            TRADE(
                exchange=self.exchange,
                symbol=symbol,
                price=wire_decimal(row[0]),
                qty=wire_quantity(row[1]),
                side=_SIDES[row[3]],
                order_type=_ORDER_TYPES.get(row[4]),
                ts_exchange=seconds_text_to_ns(row[2]),
                ts_received=received_ns,
            )
            for row in _rows(payloads)
        ]

    def _ticker(self, payloads: list[DataItem], option: int | None, symbol: str, received_ns: int) -> list[Event]:
        data = _dict_payload(payloads)
        ask, bid, last = data.a, data.b, data.c
        if type(ask) is not list or type(bid) is not list or type(last) is not list:
            raise WireValueError("a ticker has a, b and c lists")
        price_texts = (bid[0], ask[0], last[0], data.p[1], data.l[1], data.h[1], data.o[1])  # type: ignore[index]
        quantity_texts = (bid[2], ask[2], last[1], data.v[1])  # type: ignore[index]
        bid_price, ask_price, last_price, vwap, low, high, open_ = [wire_decimal(text) for text in price_texts]
        bid_qty, ask_qty, last_qty, volume = [wire_quantity(text) for text in quantity_texts]
        return [
            TICKER(
                exchange=self.exchange,
                symbol=symbol,
                bid=bid_price,
                bid_qty=bid_qty,
                ask=ask_price,
                ask_qty=ask_qty,
                last=last_price,
                last_qty=last_qty,
                volume_24h=volume,
                vwap_24h=vwap,
                low_24h=low,
                high_24h=high,
                open_24h=open_,
                trades_24h=_integer(data.t[1]),  # type: ignore[index]
                ts_received=received_ns,
            )
        ]

    def _spread(self, payloads: list[DataItem], option: int | None, symbol: str, received_ns: int) -> list[Event]:
        bid, ask, time, bid_qty, ask_qty = _scalars(payloads)
        return [
            Quote(
                exchange=self.exchange,
                symbol=symbol,
                bid=wire_decimal(bid),
                bid_qty=wire_quantity(bid_qty),
                ask=wire_decimal(ask),
                ask_qty=wire_quantity(ask_qty),
                ts_exchange=seconds_text_to_ns(time),
                ts_received=received_ns,
            )
        ]

    def _ohlc(self, payloads: list[DataItem], option: int | None, symbol: str, received_ns: int) -> list[Event]:
        time, end, open_, high, low, close, vwap, volume, count = _scalars(payloads)
        if option is None:
            raise WireValueError("an ohlc channel names its interval")
        minutes = option
        end_ns = seconds_text_to_ns(end)
        return [
            Candle(
                exchange=self.exchange,
                symbol=symbol,
                interval=candle_interval(minutes),
                start=end_ns - minutes * 60_000_000_000,
                end=end_ns,
                open=wire_decimal(open_),
                high=wire_decimal(high),
                low=wire_decimal(low),
                close=wire_decimal(close),
                vwap=wire_decimal(vwap),
                volume=wire_quantity(volume),
                trades=_integer(count),
                ts_exchange=seconds_text_to_ns(time),
                ts_received=received_ns,
            )
        ]

    def _book(self, payloads: list[DataItem], option: int | None, symbol: str, received_ns: int) -> list[Event]:
        depth = option or DEFAULT_BOOK_DEPTH
        first = payloads[0]
        if type(first) is not _DictPayload:
            raise WireValueError("a book payload must be an object")
        if first.as_ is not None or first.bs is not None:
            asks, latest = _levels(first.as_ or (), None)
            bids, latest = _levels(first.bs or (), latest)
            return [
                BookSnapshot(
                    exchange=self.exchange,
                    symbol=symbol,
                    depth=depth,
                    bids=bids,
                    asks=asks,
                    ts_exchange=None if latest is None else seconds_text_to_ns(latest),
                    ts_received=received_ns,
                )
            ]
        asks = bids = ()
        latest = checksum = None
        for payload in payloads:  # one payload per side; the last one carries the checksum
            if type(payload) is not _DictPayload:
                raise WireValueError("a book payload must be an object")
            if payload.a is not None:
                asks, latest = _levels(payload.a, latest)
            if payload.b is not None:
                bids, latest = _levels(payload.b, latest)
            text = payload.c
            if text is not None:
                if type(text) is not str or not text.isdigit():
                    raise WireValueError(f"checksum must be a decimal string, got {text!r}")
                checksum = int(text)
        return [
            BOOK_UPDATE(
                exchange=self.exchange,
                symbol=symbol,
                depth=depth,
                bids=bids,
                asks=asks,
                checksum=checksum,
                ts_exchange=None if latest is None else seconds_text_to_ns(latest),
                ts_received=received_ns,
            )
        ]


def _levels(rows: Sequence[LevelRow | str | int], latest: str | None) -> tuple[tuple[BookLevel, ...], str | None]:
    """Book levels in wire order, and the latest of ``latest`` and their times.

    Times stay text here, compared as text: Kraken writes every one with six decimals, so
    equal-length texts order like their values; a longer text (more digits) is compared by value.
    """
    levels = []
    for row in rows:
        if type(row) is not tuple or len(row) < 3:  # fields Kraken may add after these are ignored
            raise WireValueError(f"expected a book level, got {row!r}")
        levels.append(BOOK_LEVEL(wire_decimal(row[0]), wire_quantity(row[1]), len(row) > 3 and row[3] == "r"))
        time = row[2]
        if latest is None or (time > latest if len(time) == len(latest) else Decimal(time) > Decimal(latest)):
            latest = time
    return tuple(levels), latest


def _only(payloads: list[DataItem]) -> object:
    """The single payload of a non-book data frame."""
    if len(payloads) != 1:
        raise WireValueError(f"expected one payload, got {len(payloads)}")
    return payloads[0]


def _dict_payload(payloads: list[DataItem]) -> DictPayload:
    payload = _only(payloads)
    if type(payload) is not _DictPayload:
        raise WireValueError("expected an object payload")
    return payload


def _rows(payloads: list[DataItem]) -> list[FillRow]:
    """A trade payload: a list of fill rows."""
    payload = _only(payloads)
    if type(payload) is not list:
        raise WireValueError("expected a list of trades")
    for row in payload:
        if type(row) is not tuple or len(row) < 5:  # fields Kraken may add after these are ignored
            raise WireValueError(f"expected a trade, got {row!r}")
    return payload


def _scalars(payloads: list[DataItem]) -> list[str | int]:
    """A spread or ohlc payload; a nested list inside fails the conversion of that value."""
    payload = _only(payloads)
    if type(payload) is not list:
        raise WireValueError("expected a list of values")
    return payload


def _integer(value: object) -> int:
    if type(value) is not int:
        raise WireValueError(f"expected an integer, got {value!r}")
    return value
