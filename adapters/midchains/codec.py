"""Sans-I/O codec for Midchains: order-level books in, shared L2 events out.

Midchains sends order entries; this codec keeps each subscribed security's entries, aggregates
them into levels and emits exactly what a depth-limited L2 subscriber needs: a snapshot, then the
level changes inside the subscribed depth (including levels that move into it from below). Best
bid and offer changes become ``Quote`` events. Trades are de-duplicated by ``matchid``, across
reconnects too, because the server replays recent trades on every subscribe.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from adapters.midchains.dialect import DEFAULT_DIALECT, MidchainsDialect
from adapters.midchains.orders import OrderLevelBook
from adapters.midchains.wire import (
    BookMessage,
    Entry,
    ErrorReply,
    Heartbeat,
    OpenNotice,
    Request,
    RequestItem,
    ServerMessage,
    SubscribeReply,
    TradeMessage,
    UnsubscribeReply,
)
from schemas.events import (
    BookInvalidated,
    BookLevel,
    BookSnapshot,
    BookUpdate,
    Event,
    Quote,
    Side,
    Status,
    Trade,
)
from schemas.subscription import Subscription
from sdk.contract import Codec, undecodable_frame
from sdk.l2diff import Level, window_changes
from sdk.requests import RequestTracker
from sdk.subscriptions import EVERY_SYMBOL
from sdk.symbols import SymbolMap
from sdk.wiretext import WireValueError

SEEN_TRADES = 10_000
"""How many recent ``matchid`` values are remembered for de-duplication."""

_TAKER: dict[str, Side] = {"B": "sell", "S": "buy"}  # the maker's side, turned into the taker's
_WIRE_MESSAGE = {"book": "book", "quotes": "book", "trades": "trade"}


@dataclass
class _Security:
    """What one security's subscribers hold: the order book, and the L2 window last sent."""

    book: OrderLevelBook = field(default_factory=OrderLevelBook)
    depth: int | None = None
    """Subscribed book depth (None: only quotes are wanted)."""
    quotes: bool = False
    synced: bool = False
    broken: bool = False
    """A malformed book message was refused: the book is behind the venue's until resubscribed."""
    every: bool = False
    """Started by a ``"*"`` subscription rather than its own."""
    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)
    best: tuple[Level | None, Level | None] = (None, None)


class MidchainsCodec(Codec):
    """Translates shared subscriptions into Midchains requests and its messages into events.

    Requests are tracked by (message, security): a reply echoes both, and so does the first data
    message, which is what confirms a subscription (A3). A book message applies whole or not at
    all; a malformed one becomes an ``ErrorEvent`` and a ``BookInvalidated``, and nothing more is
    built on that book until it is subscribed again.
    """

    def __init__(self, exchange: str, symbols: SymbolMap, dialect: MidchainsDialect = DEFAULT_DIALECT) -> None:
        super().__init__(exchange, symbols)
        self._dialect = dialect
        self._decoder = msgspec.json.Decoder(ServerMessage)
        self._encoder = msgspec.json.Encoder()
        self._securities: dict[str, _Security] = {}
        self._requests: RequestTracker[tuple[str, str]] = RequestTracker(exchange)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._retiring: dict[str, int] = {}
        """Book unsubscribes awaiting their reply, by symbol: until it comes, book messages for that
        symbol belong to the ended stream, even if a new subscribe has left since (A5, A6)."""

    def resume(self, previous: Codec) -> None:
        """Keep the trade ids seen on the previous connection: the server replays recent trades."""
        if isinstance(previous, MidchainsCodec):
            self._seen = previous._seen

    # -- requests ---------------------------------------------------------------------------

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        for subscription in subscriptions:
            symbol = subscription.symbol
            if subscription.channel != "trades":
                security = self._securities.setdefault(symbol, _Security())
                security.synced = security.broken = False  # the next book message is a fresh snapshot (A6)
                if subscription.channel == "book":
                    security.depth = subscription.depth
                else:
                    security.quotes = True
            self._requests.sent((_WIRE_MESSAGE[subscription.channel], symbol), [subscription])
        return self._request("subscribe", subscriptions)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        for subscription in subscriptions:
            symbol = subscription.symbol
            if subscription.channel != "trades" and (security := self._securities.get(symbol)) is not None:
                if subscription.channel == "book":
                    security.depth = None
                else:
                    security.quotes = False
                if security.depth is None and not security.quotes:
                    del self._securities[symbol]
                    if symbol == EVERY_SYMBOL:
                        self._securities = {s: each for s, each in self._securities.items() if not each.every}
            self._requests.sent((_WIRE_MESSAGE[subscription.channel], symbol), [subscription], unsubscribe=True)
        for symbol in {s.symbol for s in subscriptions if s.channel != "trades"}:
            self._retiring[symbol] = self._retiring.get(symbol, 0) + 1
        return self._request("unsubscribe", subscriptions)

    def _request(self, kind: str, subscriptions: Sequence[Subscription]) -> list[str]:
        """All items in one ``request`` array, as the documented format allows."""
        items = list(dict.fromkeys((_WIRE_MESSAGE[s.channel], self.symbols.to_wire(s.symbol)) for s in subscriptions))
        request = [RequestItem(msg=msg, security=security, dest=self._dialect.dest) for msg, security in items]
        return [self._encoder.encode(Request(type=kind, request=request)).decode()] if request else []

    # -- messages ---------------------------------------------------------------------------

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        message = self._decoder.decode(frame)
        if type(message) is BookMessage:
            return self._book(message, frame, received_ns)
        if type(message) is TradeMessage:
            return self._trade(message, received_ns)
        if type(message) is SubscribeReply or type(message) is UnsubscribeReply:
            return self._reply(message, received_ns)
        if type(message) is ErrorReply:
            return [self.error(f"exchange error: {message.result}", frame, received_ns)]
        if type(message) is OpenNotice:
            return [Status(exchange=self.exchange, state="online", detail="connection open", ts_received=received_ns)]
        assert type(message) is Heartbeat
        return []

    def _confirmations(self, msg: str, symbol: str, received_ns: int) -> list[Event]:
        """``Subscribed`` for what this first data message confirms (no acks are sent: A3)."""
        if not self._requests:  # the usual case once streams are flowing: nothing to look up
            return []
        return self._requests.acknowledged((msg, symbol), received_ns)

    def _book(self, message: BookMessage, frame: bytes | str, received_ns: int) -> list[Event]:
        symbol = self.symbols.from_wire(message.security)
        if self._retiring and (symbol in self._retiring or EVERY_SYMBOL in self._retiring):
            return []  # in flight when the unsubscribe left: the ended stream's, not the new one's snapshot
        security = self._securities.get(symbol)
        if security is None:
            every = self._securities.get(EVERY_SYMBOL)  # a "*" subscription: each new security starts a book
            if every is None:
                raise WireValueError(f"book message for {message.security}, which is not subscribed")
            security = self._securities[symbol] = _Security(depth=every.depth, quotes=every.quotes, every=True)
        events = self._confirmations("book", symbol, received_ns) + self._confirmations("book", "*", received_ns)
        if security.broken:
            return events
        snapshot = not security.synced if self._dialect.snapshot_mode == "first_message" else message.snapshot
        try:
            latest = _latest_time(message.books)
            security.book.apply(message.books, zero_qty_is_remove=self._dialect.zero_qty_is_remove, replace=snapshot)
        except ValueError as exc:
            return events + self._refused_book(symbol, security, frame, exc, received_ns)
        if security.depth is not None:
            bids = security.book.top("B", security.depth)
            asks = security.book.top("S", security.depth)
            if snapshot:
                events.append(
                    BookSnapshot(
                        exchange=self.exchange,
                        symbol=symbol,
                        depth=security.depth,
                        bids=tuple(BookLevel(p, q) for p, q in bids),
                        asks=tuple(BookLevel(p, q) for p, q in asks),
                        ts_exchange=latest,
                        ts_received=received_ns,
                    )
                )
            else:
                bid_changes = _changes(security.bids, bids, security.depth, bids=True)
                ask_changes = _changes(security.asks, asks, security.depth, bids=False)
                if bid_changes or ask_changes:
                    events.append(
                        BookUpdate(
                            exchange=self.exchange,
                            symbol=symbol,
                            depth=security.depth,
                            bids=bid_changes,
                            asks=ask_changes,
                            ts_exchange=latest,
                            ts_received=received_ns,
                        )
                    )
            security.bids, security.asks = bids, asks
        security.synced = True
        if security.quotes:
            top_bid, top_ask = _first(security.book.top("B", 1)), _first(security.book.top("S", 1))
            best = (top_bid, top_ask)
            if best != security.best and top_bid is not None and top_ask is not None:
                (bid, bid_qty), (ask, ask_qty) = top_bid, top_ask
                events.append(
                    Quote(
                        exchange=self.exchange,
                        symbol=symbol,
                        bid=bid,
                        bid_qty=bid_qty,
                        ask=ask,
                        ask_qty=ask_qty,
                        ts_exchange=latest,
                        ts_received=received_ns,
                    )
                )
            security.best = best
        return events

    def _refused_book(
        self, symbol: str, security: _Security, frame: bytes | str, exc: ValueError, received_ns: int
    ) -> list[Event]:
        """A malformed book message, refused whole: its error, and the book known to be behind the
        venue's (one it never saw whole, after a malformed snapshot) until the feed resubscribes it."""
        security.broken = True
        error = undecodable_frame(self, frame, exc, received_ns)
        if security.depth is None:  # only quotes come from this book, and only a new connection resubscribes them
            self.reconnect_reason = f"malformed book message for {symbol}"
            return [error]
        invalidated = BookInvalidated(
            exchange=self.exchange, symbol=symbol, depth=security.depth, reason="malformed", ts_received=received_ns
        )
        return [error, invalidated]

    def _trade(self, message: TradeMessage, received_ns: int) -> list[Event]:
        symbol = self.symbols.from_wire(message.security)
        events = self._confirmations("trade", symbol, received_ns)
        if message.matchid in self._seen:
            return events  # a replay of a trade already delivered
        self._seen[message.matchid] = None
        if len(self._seen) > SEEN_TRADES:
            self._seen.popitem(last=False)
        if not (message.price.is_finite() and message.qty.is_finite()):
            raise WireValueError("trade price and quantity must be finite")
        events.append(
            Trade(
                exchange=self.exchange,
                symbol=symbol,
                price=message.price,
                qty=message.qty,
                side=_TAKER.get(message.maker_side or ""),
                trade_id=message.matchid,
                ts_exchange=_ms_to_ns(message.time) if message.time is not None else None,
                ts_received=received_ns,
            )
        )
        return events

    def _reply(self, message: SubscribeReply | UnsubscribeReply, received_ns: int) -> list[Event]:
        """An echoed request: ``"OK"`` confirms it, anything else refuses it (A4, A5)."""
        unsubscribing = type(message) is UnsubscribeReply
        events: list[Event] = []
        for item in message.request:
            key = (item.msg, self.symbols.from_wire(item.security))
            if unsubscribing and item.msg == "book":
                self._stream_ended(key[1])
            if message.result == "OK":
                events += self._requests.acknowledged(key, received_ns, unsubscribe=unsubscribing)
            else:
                events += self._requests.refused(
                    key, message.result, received_ns, unsubscribe=unsubscribing, symbol=key[1]
                )
        return events

    def _stream_ended(self, symbol: str) -> None:
        """An unsubscribe reply: the book messages that follow belong to whatever subscribe came next."""
        pending = self._retiring.get(symbol, 0) - 1
        if pending > 0:
            self._retiring[symbol] = pending
        else:
            self._retiring.pop(symbol, None)


def _latest_time(entries: Sequence[Entry]) -> int | None:
    """The latest entry time of a book message, in nanoseconds."""
    times = [_ms_to_ns(entry.time) for entry in entries if entry.time is not None]
    return max(times) if times else None


def _changes(held: list[Level], now: list[Level], depth: int, *, bids: bool) -> tuple[BookLevel, ...]:
    """L2 changes turning the window a subscriber holds into ``now``, every departure deleted."""
    return tuple(BookLevel(c.price, c.qty) for c in window_changes(held, now, depth=depth, bids=bids))


def _first(levels: list[Level]) -> Level | None:
    return levels[0] if levels else None


def _ms_to_ns(value: str | int) -> int:
    """Epoch milliseconds (as text or number; plain seconds are tolerated) to nanoseconds."""
    number = int(value)
    if number < 0:
        raise WireValueError(f"negative time {value!r}")
    return number * (1_000_000_000 if number < 100_000_000_000 else 1_000_000)
