"""Sans-I/O codec for Kraken's v2 public WebSocket protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from adapters.kraken.channels import params_of, subscription_of
from adapters.kraken.wire import (
    BookMessage,
    ChannelMessage,
    Heartbeat,
    InstrumentMessage,
    OhlcMessage,
    Params,
    Request,
    Response,
    StatusMessage,
    TickerMessage,
    TradeMessage,
)
from adapters.kraken_common.checksum import KrakenChecksum
from adapters.kraken_common.status import system_status
from schemas.events import Candle, Event, Instrument
from schemas.subscription import Subscription
from sdk.contract import Codec
from sdk.event_classes import BOOK_SNAPSHOT, BOOK_UPDATE, QUOTE, TICKER, TRADE
from sdk.requests import RequestTracker
from sdk.subscriptions import format_interval
from sdk.symbols import SymbolMap
from sdk.wiretext import (
    WireValueError,
    check_levels,
    check_number,
    check_places,
    check_quantity,
    rfc3339_to_ns,
)

ChannelHandler = Callable[[Any, int], list[Event]]


class KrakenCodec(Codec):
    """Turns shared subscriptions into v2 requests and v2 messages into schema events.

    Book checksums need each pair's price and quantity precision, which only the instrument
    channel gives: the first book request on a connection also subscribes to it, and a book whose
    precision has not arrived is reported unverifiable rather than checked with a guess.
    """

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__(exchange, symbols)
        self._channels = msgspec.json.Decoder(ChannelMessage)
        self._responses = msgspec.json.Decoder(Response)
        self._encoder = msgspec.json.Encoder()
        self._handlers: dict[type, ChannelHandler] = {
            BookMessage: self._book,
            TradeMessage: self._trades,
            TickerMessage: self._tickers,
            OhlcMessage: self._candles,
            StatusMessage: self._status,
            InstrumentMessage: self._instruments,
            Heartbeat: lambda message, received_ns: [],
        }
        self._requests: RequestTracker[int] = RequestTracker(exchange)
        self._instrument_request: int | None = None
        """The request for instrument data made for checksums alone, not asked for by the user."""
        self._book_depth: dict[str, int] = {}
        self._quote_symbols: set[str] = set()
        self._ticker_symbols: set[str] = set()
        self._schemes: dict[str, KrakenChecksum] = {}
        self._instruments_requested = False
        self._instruments_wanted = False

    # -- requests ---------------------------------------------------------------------------

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        frames = []
        wants_books = any(s.channel == "book" for s in subscriptions)
        wants_instruments = any(s.channel == "instruments" for s in subscriptions)
        if wants_books and not wants_instruments and not self._instruments_requested:
            request_id = self._instrument_request = self.next_request_id()
            frames.append(self._encode("subscribe", Params(channel="instrument", snapshot=True), request_id))
        self._instruments_requested |= wants_books or wants_instruments
        for subscription in subscriptions:
            self._track(subscription, subscribed=True)
        return frames + self._requests_for("subscribe", subscriptions)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        for subscription in subscriptions:
            self._track(subscription, subscribed=False)
        return self._requests_for("unsubscribe", subscriptions)

    def ping(self) -> str:
        return self._encoder.encode(Request(method="ping", req_id=self.next_request_id())).decode()

    def book_checksum(self, symbol: str) -> KrakenChecksum | None:
        return self._schemes.get(symbol)

    def _track(self, subscription: Subscription, *, subscribed: bool) -> None:
        symbol = subscription.symbol
        match subscription.channel:
            case "book" if subscription.depth is not None:  # one depth a symbol: v2 refuses a second
                if subscribed:
                    self._book_depth.setdefault(symbol, subscription.depth)
                elif self._book_depth.get(symbol) == subscription.depth:
                    del self._book_depth[symbol]
            case "quotes":
                (self._quote_symbols.add if subscribed else self._quote_symbols.discard)(symbol)
            case "ticker":
                (self._ticker_symbols.add if subscribed else self._ticker_symbols.discard)(symbol)
            case "instruments":
                self._instruments_wanted = subscribed

    def _requests_for(self, method: str, subscriptions: Sequence[Subscription]) -> list[str]:
        """One request per distinct channel parameters, listing all of their symbols."""
        groups: dict[bytes, tuple[Params, list[Subscription]]] = {}
        for subscription in subscriptions:
            params = params_of(subscription)
            groups.setdefault(self._encoder.encode(params), (params, []))[1].append(subscription)
        frames = []
        for params, members in groups.values():
            symbols = [self.symbols.to_wire(s.symbol) for s in members if s.channel != "instruments"]
            request_id = self.next_request_id()
            self._requests.sent(request_id, members, unsubscribe=method == "unsubscribe")
            frames.append(self._encode(method, msgspec.structs.replace(params, symbol=symbols or None), request_id))
        return frames

    def _encode(self, method: str, params: Params, request_id: int) -> str:
        return self._encoder.encode(Request(method=method, params=params, req_id=request_id)).decode()

    # -- frames -----------------------------------------------------------------------------

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        try:
            message = self._channels.decode(frame)
        except msgspec.ValidationError as not_a_channel_message:
            # replies to requests have no channel; they are rare, so they take the second try
            try:
                response = self._responses.decode(frame)
            except msgspec.ValidationError as not_a_response:
                raise WireValueError(
                    f"neither a channel message ({not_a_channel_message}) nor a reply ({not_a_response})"
                ) from None
            return self._response(response, frame, received_ns)
        return self._handlers[type(message)](message, received_ns)

    def _response(self, response: Response, frame: bytes | str, received_ns: int) -> list[Event]:
        method = response.method
        if method not in ("subscribe", "unsubscribe"):
            if response.success is False:
                return [self.error(f"{method} refused: {response.error}", frame, received_ns)]
            return []  # pong and other successful replies carry no market information
        if response.success:
            return self._acknowledged(response, received_ns)
        if response.req_id is not None and response.req_id == self._instrument_request:
            message = f"instrument reference data refused: {response.error}; books cannot be verified"
            return [self.error(message, frame, received_ns)]
        return self._refused(response, received_ns)

    def _acknowledged(self, response: Response, received_ns: int) -> list[Event]:
        """Confirmations of what request ``req_id`` carried for the acknowledged symbol."""
        result = response.result
        if result is None:
            raise WireValueError("an acknowledgement without a result")
        symbol = self.symbols.from_wire(result.symbol) if result.symbol else None
        echoed = subscription_of(result, symbol)
        if echoed is None:
            raise WireValueError(f"acknowledgement for an unknown channel {result.channel!r}")
        if echoed.channel == "instruments" and not self._instruments_wanted:
            return []  # the subscription this codec made for itself
        return self._requests.acknowledged(
            response.req_id,
            received_ns,
            unsubscribe=response.method == "unsubscribe",
            symbol=symbol,
            echoed=echoed,
            warnings=tuple(result.warnings),
        )

    def _refused(self, response: Response, received_ns: int) -> list[Event]:
        """A refusal, matched to what was requested by ``req_id`` and, when given, symbol."""
        subscribing = response.method == "subscribe"
        refusals = self._requests.refused(
            response.req_id,
            response.error or "refused without a reason",
            received_ns,
            unsubscribe=not subscribing,
            symbol=self.symbols.from_wire(response.symbol) if response.symbol else None,
        )
        for refusal in refusals:  # a refused stream must not be decoded as if it were live
            if subscribing and refusal.subscription is not None:
                self._track(refusal.subscription, subscribed=False)
        return [*refusals]

    # -- channels ---------------------------------------------------------------------------

    def _status(self, message: StatusMessage, received_ns: int) -> list[Event]:
        return [system_status(self.exchange, data.system, data.version, received_ns) for data in message.data]

    def _book(self, message: BookMessage, received_ns: int) -> list[Event]:
        kind = BOOK_SNAPSHOT if message.type == "snapshot" else BOOK_UPDATE
        if message.type not in ("snapshot", "update"):
            raise WireValueError(f"book message of unknown type {message.type!r}")
        events: list[Event] = []
        from_wire = self.symbols.from_wire
        for data in message.data:
            symbol = from_wire(data.symbol)
            check_levels(data.bids)
            check_levels(data.asks)
            events.append(
                kind(
                    exchange=self.exchange,
                    symbol=symbol,
                    depth=self._book_depth.get(symbol, 10),
                    bids=data.bids,
                    asks=data.asks,
                    checksum=data.checksum,
                    ts_exchange=rfc3339_to_ns(data.timestamp) if data.timestamp else None,
                    ts_received=received_ns,
                )
            )
        return events

    def _trades(self, message: TradeMessage, received_ns: int) -> list[Event]:
        from_wire = self.symbols.from_wire
        return [
            TRADE(
                exchange=self.exchange,
                symbol=from_wire(data.symbol),
                price=check_number(data.price),
                qty=check_quantity(data.qty),
                side=data.side,
                order_type=data.ord_type,
                trade_id=str(data.trade_id),
                ts_exchange=rfc3339_to_ns(data.timestamp),
                ts_received=received_ns,
            )
            for data in message.data
        ]

    def _tickers(self, message: TickerMessage, received_ns: int) -> list[Event]:
        """Ticker events, and Quote events for symbols subscribed with the ``bbo`` trigger."""
        events: list[Event] = []
        for data in message.data:
            symbol = self.symbols.from_wire(data.symbol)
            ts = rfc3339_to_ns(data.timestamp) if data.timestamp else None
            bid, bid_qty = check_number(data.bid), check_quantity(data.bid_qty)
            ask, ask_qty = check_number(data.ask), check_quantity(data.ask_qty)
            if symbol in self._quote_symbols:
                events.append(
                    QUOTE(
                        exchange=self.exchange,
                        symbol=symbol,
                        bid=bid,
                        bid_qty=bid_qty,
                        ask=ask,
                        ask_qty=ask_qty,
                        ts_exchange=ts,
                        ts_received=received_ns,
                    )
                )
            if symbol in self._ticker_symbols or symbol not in self._quote_symbols:
                last = check_number(data.last)
                events.append(
                    TICKER(
                        exchange=self.exchange,
                        symbol=symbol,
                        bid=bid,
                        bid_qty=bid_qty,
                        ask=ask,
                        ask_qty=ask_qty,
                        last=last,
                        volume_24h=check_quantity(data.volume),
                        vwap_24h=check_number(data.vwap),
                        low_24h=check_number(data.low),
                        high_24h=check_number(data.high),
                        open_24h=last - check_number(data.change),
                        trades_24h=data.trades,
                        ts_exchange=ts,
                        ts_received=received_ns,
                    )
                )
        return events

    def _candles(self, message: OhlcMessage, received_ns: int) -> list[Event]:
        sent = rfc3339_to_ns(message.timestamp) if message.timestamp else None
        events: list[Event] = []
        for data in message.data:
            start = rfc3339_to_ns(data.interval_begin)
            for price in (data.open, data.high, data.low, data.close, data.vwap):
                check_number(price)
            check_quantity(data.volume)
            events.append(
                Candle(
                    exchange=self.exchange,
                    symbol=self.symbols.from_wire(data.symbol),
                    interval=format_interval(data.interval * 60),
                    start=start,
                    end=start + data.interval * 60_000_000_000,
                    open=data.open,
                    high=data.high,
                    low=data.low,
                    close=data.close,
                    vwap=data.vwap,
                    volume=data.volume,
                    trades=data.trades,
                    ts_exchange=sent,
                    ts_received=received_ns,
                )
            )
        return events

    def _instruments(self, message: InstrumentMessage, received_ns: int) -> list[Event]:
        """Learn each pair's checksum precisions; emit Instrument events only if asked for."""
        pairs = message.data.pairs
        for pair in pairs:  # all checked before any is learnt: a bad frame changes nothing
            check_places(pair.price_precision)
            check_places(pair.qty_precision)
            for increment in (pair.price_increment, pair.qty_increment, pair.qty_min, pair.cost_min):
                if increment is not None:
                    check_quantity(increment)
        for pair in pairs:
            self._schemes[self.symbols.from_wire(pair.symbol)] = KrakenChecksum(
                pair.price_precision, pair.qty_precision
            )
        if not self._instruments_wanted:
            return []
        return [
            Instrument(
                exchange=self.exchange,
                symbol=self.symbols.from_wire(pair.symbol),
                base=pair.base,
                quote=pair.quote,
                status=pair.status,
                price_precision=pair.price_precision,
                qty_precision=pair.qty_precision,
                price_increment=pair.price_increment,
                qty_increment=pair.qty_increment,
                qty_min=pair.qty_min,
                cost_min=pair.cost_min,
                ts_received=received_ns,
            )
            for pair in pairs
        ]
