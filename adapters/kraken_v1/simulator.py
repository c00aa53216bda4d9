"""A local Kraken v1 exchange: the v1 public protocol over the shared synthetic market.

Book updates follow Kraken's depth rules (explicit deletions, ``r`` republishes of levels that move
into the window, nothing for levels pushed out by inserts) and carry correct checksums, so a
client that maintains the book exactly as Kraken documents stays verified.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from adapters.kraken_common.checksum import checksum_of_text
from adapters.kraken_common.instruments import INSTRUMENTS, QTY_DECIMALS
from adapters.kraken_common.limits import BOOK_DEPTHS, OHLC_MINUTES
from adapters.kraken_v1.channels import SYMBOLS, channel_name
from adapters.kraken_v1.wire import (
    ClientMessage,
    Error,
    Heartbeat,
    Ping,
    Pong,
    Subscribe,
    SubscriptionOptions,
    SubscriptionStatus,
    SystemStatus,
)
from sdk.l2diff import LevelChange
from sdk.simulation.market import Instrument, InstrumentState, MarketStep, SimTrade, SyntheticMarket
from sdk.simulation.session import Reply, Session, flip_number_after
from sdk.simulation.simulator import Simulator
from sdk.simulation.window import DepthWindow

_NAMES = ("trade", "book", "ticker", "spread", "ohlc")
_PRICE_DECIMALS = {"DOGE/USD": 7, "XRP/USD": 5}


def _price_text(symbol: str, price: Decimal) -> str:
    return f"{price:.{_PRICE_DECIMALS.get(symbol, 5)}f}"


def _qty_text(qty: Decimal) -> str:
    return f"{qty:.{QTY_DECIMALS}f}"


def _time_text(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000 // 1_000:06d}"


class KrakenV1Simulator(Simulator):
    """Kraken v1 on loopback. ``xfeeds simulate kraken-v1 --port 8765`` runs one."""

    def instruments(self) -> list[Instrument]:
        return INSTRUMENTS

    def new_session(self) -> KrakenV1Session:
        return KrakenV1Session(self.market)


class KrakenV1Session(Session):
    """One client connection: its subscriptions and, per book, the levels it has been sent."""

    def __init__(self, market: SyntheticMarket) -> None:
        super().__init__(market)
        self._decoder = msgspec.json.Decoder(ClientMessage)
        self._encoder = msgspec.json.Encoder()
        self._next_channel_id = 100
        # shared symbol -> channelName -> (channel id, options)
        self._channels: dict[str, dict[str, tuple[int, SubscriptionOptions]]] = {}
        self._windows: dict[tuple[str, int], DepthWindow] = {}
        self._quotes: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {}

    def on_open(self, now_ns: int) -> list[str]:
        return [self._encode(SystemStatus(status="online", version="1.9.6", connectionID=18239578009413566319))]

    def status(self, state: str) -> str:
        return self._encode(SystemStatus(status=state, version="1.9.6"))

    def heartbeat(self, now_ns: int) -> str | None:
        return self._encode(Heartbeat()) if self._channels else None

    def on_message(self, data: bytes, now_ns: int) -> Reply:
        reply = Reply()
        try:
            message = self._decoder.decode(data)
        except msgspec.DecodeError:
            reply.send(self._encode(Error(errorMessage="Malformed request")))
            return reply
        if isinstance(message, Ping):
            reply.send(self._encode(Pong(reqid=message.reqid)))
        elif isinstance(message, Subscribe):
            for pair in message.pair or []:
                self._subscribe(pair, message.subscription, message.reqid, reply, now_ns)
        else:
            for pair in message.pair or self._all_pairs():
                self._unsubscribe(pair, message.subscription, message.reqid, reply)
        return reply

    def refuse(self, data: bytes, reason: str, now_ns: int) -> list[str] | None:
        try:
            message = self._decoder.decode(data)
        except msgspec.DecodeError:
            return None
        if not isinstance(message, Subscribe):
            return None
        options = _normalized(message.subscription)
        return [
            self._encode(_status("error", pair, options, message.reqid, error=reason)) for pair in message.pair or []
        ]

    def corrupt_checksum(self, frame: str, symbol: str) -> str | None:
        if '"book-' not in frame or not frame.endswith(f',"{SYMBOLS.to_wire(symbol)}"]') or '"c":"' not in frame:
            return None
        return flip_number_after(frame, '"c":"')

    # -- subscriptions ----------------------------------------------------------------------

    def _subscribe(self, pair: str, options: SubscriptionOptions, reqid: int | None, reply: Reply, now_ns: int) -> None:
        options = _normalized(options)
        problem = self._refusal(pair, options)
        symbol = SYMBOLS.from_wire(pair)
        name = channel_name(options)
        if problem is None and name in self._channels.get(symbol, {}):
            problem = "Already subscribed"
        if problem is not None:
            reply.send(self._encode(_status("error", pair, options, reqid, error=problem)))
            return
        self._next_channel_id += 1
        self._channels.setdefault(symbol, {})[name] = (self._next_channel_id, options)
        reply.ack(
            self._encode(_status("subscribed", pair, options, reqid, name=name, channel_id=self._next_channel_id))
        )
        initial = self._initial(symbol, name, now_ns)
        if initial is not None:
            reply.send(initial)

    def _unsubscribe(self, pair: str, options: SubscriptionOptions, reqid: int | None, reply: Reply) -> None:
        symbol = SYMBOLS.from_wire(pair)
        names = list(self._channels.get(symbol, {})) if options.name == "*" else [channel_name(_normalized(options))]
        for name in names:
            entry = self._channels.get(symbol, {}).pop(name, None)
            if entry is None:
                reply.send(self._encode(_status("error", pair, options, reqid, error="Subscription Not Found")))
                continue
            if options.name == "book":
                self._windows.pop((symbol, entry[1].depth or 10), None)
            reply.send(self._encode(_status("unsubscribed", pair, entry[1], reqid, name=name, channel_id=entry[0])))

    def _refusal(self, pair: str, options: SubscriptionOptions) -> str | None:
        if options.name not in _NAMES:
            return "Subscription name invalid"
        if options.name == "book" and options.depth not in BOOK_DEPTHS:
            return "Subscription depth not supported"
        if options.name == "ohlc" and options.interval not in OHLC_MINUTES:
            return "Subscription ohlc interval not supported"
        if "/" not in pair:
            return f"Currency pair not in ISO 4217-A3 format {pair}"
        if SYMBOLS.from_wire(pair) not in self.market.states:
            return f"Currency pair not supported {pair}"
        return None

    def _all_pairs(self) -> list[str]:
        return [SYMBOLS.to_wire(symbol) for symbol in self._channels]

    # -- market data ------------------------------------------------------------------------

    def _initial(self, symbol: str, name: str, now_ns: int) -> str | None:
        """What Kraken sends right after an ack: book snapshot, ticker, running candle."""
        state = self.market.state(symbol)
        kind, _, option = name.partition("-")
        if kind == "book":
            window = self._windows[(symbol, int(option))] = DepthWindow(state, int(option))
            stamp = _time_text(now_ns)
            payload = {
                "as": [[*_texts(symbol, level), stamp] for level in window.asks],
                "bs": [[*_texts(symbol, level), stamp] for level in window.bids],
            }
            return self._data(symbol, name, payload)
        if kind == "ticker":
            return self._data(symbol, name, _ticker(state))
        if kind == "ohlc":
            return self._data(symbol, name, _candle(state, int(option), now_ns))
        return None

    def on_market(self, steps: list[MarketStep]) -> list[str]:
        frames = []
        for step in steps:
            channels = self._channels.get(step.symbol)
            if not channels:
                continue
            state = self.market.state(step.symbol)
            for name in list(channels):
                kind, _, option = name.partition("-")
                if kind == "book":
                    payloads = self._book_update(state, int(option), step.time_ns)
                    if payloads:
                        frames.append(self._data(step.symbol, name, *payloads))
                elif kind == "spread":
                    quote = self._quote_change(state)
                    if quote is not None:
                        frames.append(self._data(step.symbol, name, [*quote[:2], _time_text(step.time_ns), *quote[2:]]))
                elif step.trades and kind == "trade":
                    rows = [_trade_row(state.instrument.symbol, t) for t in step.trades]
                    frames.append(self._data(step.symbol, name, rows))
                elif step.trades and kind == "ticker":
                    frames.append(self._data(step.symbol, name, _ticker(state)))
                elif step.trades and kind == "ohlc":
                    frames.append(self._data(step.symbol, name, _candle(state, int(option), step.time_ns)))
        return frames

    def _book_update(self, state: InstrumentState, depth: int, now_ns: int) -> list[dict[str, Any]]:
        """The update payloads turning what the client holds into the current top ``depth``."""
        symbol = state.instrument.symbol
        window = self._windows[(symbol, depth)]
        bid_changes, ask_changes = window.advance(state)
        if not bid_changes and not ask_changes:
            return []
        stamp = _time_text(now_ns)
        ask_rows = [_row(symbol, change, stamp) for change in ask_changes]
        bid_rows = [_row(symbol, change, stamp) for change in bid_changes]
        crc = checksum_of_text(
            [_texts(symbol, level) for level in window.asks], [_texts(symbol, level) for level in window.bids]
        )
        check = str(crc)
        if ask_rows and bid_rows:
            return [{"a": ask_rows}, {"b": bid_rows, "c": check}]
        return [{"a": ask_rows, "c": check} if ask_rows else {"b": bid_rows, "c": check}]

    def _quote_change(self, state: InstrumentState) -> list[str] | None:
        symbol = state.instrument.symbol
        top = (_texts(symbol, state.bids.top(1)[0]), _texts(symbol, state.asks.top(1)[0]))
        if self._quotes.get(state.instrument.symbol) == top:
            return None
        self._quotes[state.instrument.symbol] = top
        return [top[0][0], top[1][0], top[0][1], top[1][1]]

    def _data(self, symbol: str, name: str, *payloads: Any) -> str:
        channel_id = self._channels[symbol][name][0]
        return self._encoder.encode([channel_id, *payloads, name, SYMBOLS.to_wire(symbol)]).decode()

    def _encode(self, message: msgspec.Struct) -> str:
        return self._encoder.encode(message).decode()


def _normalized(options: SubscriptionOptions) -> SubscriptionOptions:
    """Options with Kraken's defaults filled in, as its acks echo them."""
    if options.name == "book":
        return SubscriptionOptions(name="book", depth=options.depth or 10)
    if options.name == "ohlc":
        return SubscriptionOptions(name="ohlc", interval=options.interval or 1)
    return SubscriptionOptions(name=options.name)


def _status(
    status: str,
    pair: str,
    options: SubscriptionOptions,
    reqid: int | None,
    *,
    name: str | None = None,
    channel_id: int | None = None,
    error: str | None = None,
) -> SubscriptionStatus:
    return SubscriptionStatus(
        status=status,
        pair=pair,
        channelName=name,
        channelID=channel_id,
        reqid=reqid,
        subscription=options,
        errorMessage=error,
    )


def _texts(symbol: str, level: tuple[Decimal, Decimal]) -> tuple[str, str]:
    """A level's price and volume as v1 wire text."""
    return _price_text(symbol, level[0]), _qty_text(level[1])


def _row(symbol: str, change: LevelChange, stamp: str) -> list[str]:
    row = [*_texts(symbol, (change.price, change.qty)), stamp]
    return [*row, "r"] if change.refill else row


def _trade_row(symbol: str, trade: SimTrade) -> list[str]:
    return [
        _price_text(symbol, trade.price),
        _qty_text(trade.qty),
        _time_text(trade.time_ns),
        "b" if trade.side == "buy" else "s",
        "m" if trade.order_type == "market" else "l",
        "",
    ]


def _ticker(state: InstrumentState) -> dict[str, list[Any]]:
    symbol = state.instrument.symbol
    (bid, bid_qty), (ask, ask_qty) = state.bids.top(1)[0], state.asks.top(1)[0]

    def both(value: Decimal) -> list[str]:
        return [_price_text(symbol, value)] * 2

    volume = _qty_text(state.volume_24h)
    return {
        "a": [_price_text(symbol, ask), int(ask_qty), _qty_text(ask_qty)],
        "b": [_price_text(symbol, bid), int(bid_qty), _qty_text(bid_qty)],
        "c": [_price_text(symbol, state.last_price), _qty_text(state.last_qty)],
        "v": [volume, volume],
        "p": both(state.vwap_24h),
        "t": [state.trades_24h, state.trades_24h],
        "l": both(state.low_24h),
        "h": both(state.high_24h),
        "o": both(state.open_24h),
    }


def _candle(state: InstrumentState, minutes: int, now_ns: int) -> list[Any]:
    interval_ns = minutes * 60_000_000_000
    candle = state.candle(interval_ns, now_ns)
    symbol = state.instrument.symbol
    vwap = candle.notional / candle.volume if candle.volume else candle.close
    return [
        _time_text(now_ns),
        _time_text(candle.start_ns + interval_ns),
        *(_price_text(symbol, value) for value in (candle.open, candle.high, candle.low, candle.close, vwap)),
        _qty_text(candle.volume),
        candle.count,
    ]
