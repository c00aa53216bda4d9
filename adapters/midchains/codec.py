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
    MARKET_TYPES,
    BookMessage,
    Entry,
    Envelope,
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
    SubscriptionError,
    Trade,
)
from schemas.subscription import Subscription
from sdk.contract import Codec, undecodable_frame
from sdk.l2diff import Level, window_changes
from sdk.requests import RequestTracker
from sdk.subscriptions import EVERY_SYMBOL
from sdk.symbols import SymbolMap
from sdk.wirestreams import WireStreams
from sdk.wiretext import WireValueError

SEEN_TRADES = 10_000
"""How many recent ``matchid`` values are remembered for de-duplication."""

_TAKER: dict[str, Side] = {"B": "sell", "S": "buy"}  # the maker's side, turned into the taker's
_WIRE_MESSAGE = {"book": "book", "quotes": "book", "trades": "trade"}

_Stream = tuple[str, str]
"""A wire stream: the message (``book`` or ``trade``) and the shared symbol (or ``"*"``)."""


def _stream_of(subscription: Subscription) -> _Stream:
    return _WIRE_MESSAGE[subscription.channel], subscription.symbol


@dataclass
class _Security:
    """What one security's subscribers hold: the order book, and what each of them was last sent."""

    book: OrderLevelBook = field(default_factory=OrderLevelBook)
    windows: dict[int, tuple[list[Level], list[Level]] | None] = field(default_factory=dict)
    """The L2 window last sent to each subscribed depth (None: its snapshot is due)."""
    quotes: bool = False
    synced: bool = False
    broken: bool = False
    """A malformed book message was refused: the book is behind the venue's until resubscribed."""
    every: bool = False
    """Started by a ``"*"`` subscription rather than its own."""
    best: tuple[Level | None, Level | None] = (None, None)

    def restart(self) -> None:
        """The venue's stream starts over: its next message is the snapshot, which every subscriber gets."""
        self.synced = self.broken = False
        self.windows = dict.fromkeys(self.windows)
        self.best = (None, None)

    def join(self, subscription: Subscription) -> None:
        if subscription.depth is not None:
            self.windows[subscription.depth] = None
        else:
            self.quotes, self.best = True, (None, None)

    def leave(self, subscription: Subscription) -> None:
        if subscription.depth is not None:
            self.windows.pop(subscription.depth, None)
        else:
            self.quotes = False


class MidchainsCodec(Codec):
    """Translates shared subscriptions into Midchains requests and its messages into events.

    Quotes and every book depth of a security come from its one ``book`` stream, which
    ``WireStreams`` counts: the first subscription requests it, the last cancels it, the others
    attach and are served from the codec's own book with the stream's next message, which also
    confirms them (A3). A book subscription that comes back to a stream others kept (the feed's
    resync) renews it: cancelled and requested again, every subscriber continues from the venue's
    fresh snapshot.

    Requests are tracked by wire stream: a reply echoes it, and so does the first data message,
    which is what confirms a subscription (A3). A book message applies whole or not at all; a
    malformed one becomes an ``ErrorEvent`` and a ``BookInvalidated``, and nothing more is built on
    that book until it is subscribed again.
    """

    def __init__(self, exchange: str, symbols: SymbolMap, dialect: MidchainsDialect = DEFAULT_DIALECT) -> None:
        super().__init__(exchange, symbols)
        self._dialect = dialect
        self._decoder = msgspec.json.Decoder(ServerMessage)
        self._envelope = msgspec.json.Decoder(Envelope)
        self._encoder = msgspec.json.Encoder()
        self._securities: dict[str, _Security] = {}
        self._streams: WireStreams[_Stream] = WireStreams()
        self._requests: RequestTracker[_Stream] = RequestTracker(exchange)
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
        """Request the wire streams no subscription held yet; renew those a returning book needs afresh."""
        requested: list[_Stream] = []
        renewed: list[_Stream] = []
        for subscription in subscriptions:
            stream = _stream_of(subscription)
            join = self._streams.attach(stream, subscription)
            if subscription.channel != "trades":
                security = self._securities.setdefault(subscription.symbol, _Security())
                if join != "shared" or security.broken:  # a fresh snapshot is coming, or needed
                    security.restart()
                    if subscription.symbol == EVERY_SYMBOL:
                        for each in self._every():
                            each.restart()
                    if join != "first":
                        renewed.append(stream)
                security.join(subscription)
                if subscription.symbol == EVERY_SYMBOL:
                    for each in self._every():
                        each.join(subscription)
            if join == "first":
                requested.append(stream)
            self._requests.sent(stream, [subscription])
        self._retire(renewed)
        return self._request("unsubscribe", renewed) + self._request("subscribe", [*renewed, *requested])

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Cancel the wire streams whose last subscription leaves; the others are only detached."""
        cancelled: list[_Stream] = []
        for subscription in subscriptions:
            stream = _stream_of(subscription)
            self._requests.sent(stream, [subscription], unsubscribe=True)
            if self._streams.detach(stream, subscription):
                cancelled.append(stream)
            self._leave(subscription, ended=stream in cancelled)
        self._retire(cancelled)
        return self._request("unsubscribe", cancelled)

    def _leave(self, subscription: Subscription, *, ended: bool) -> None:
        """Stop serving ``subscription`` from its security's book; forget a book whose stream ended."""
        symbol = subscription.symbol
        if subscription.channel == "trades" or (security := self._securities.get(symbol)) is None:
            return
        if ended:
            del self._securities[symbol]
            if symbol == EVERY_SYMBOL:
                self._securities = {s: each for s, each in self._securities.items() if not each.every}
            return
        security.leave(subscription)
        if symbol == EVERY_SYMBOL:
            for each in self._every():
                each.leave(subscription)

    def _every(self) -> list[_Security]:
        """The securities a ``"*"`` book subscription started."""
        return [each for each in self._securities.values() if each.every]

    def _retire(self, streams: Sequence[_Stream]) -> None:
        """Book streams being cancelled: what arrives for them until the reply is the ended stream's."""
        for msg, symbol in streams:
            if msg == "book":
                self._retiring[symbol] = self._retiring.get(symbol, 0) + 1

    def _request(self, kind: str, streams: Sequence[_Stream]) -> list[str]:
        """All items in one ``request`` array, as the documented format allows."""
        items = dict.fromkeys((msg, self.symbols.to_wire(symbol)) for msg, symbol in streams)
        request = [RequestItem(msg=msg, security=security, dest=self._dialect.dest) for msg, security in items]
        return [self._encoder.encode(Request(type=kind, request=request)).decode()] if request else []

    # -- messages ---------------------------------------------------------------------------

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        """The events of one frame; a message of a type the market side does not read (the
        trading side's, on the shared socket, or one the venue added) says nothing, as the venue
        documents unknown types are to be ignored."""
        try:
            message = self._decoder.decode(frame)
        except msgspec.ValidationError:
            if self._envelope.decode(frame).type not in MARKET_TYPES:
                return []
            raise
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

    def _confirmations(self, stream: _Stream, received_ns: int) -> list[Event]:
        """What this data message of ``stream`` confirms (no acks are sent: A3): ``Subscribed`` for
        the subscriptions it now serves, ``Unsubscribed`` for those that left while others kept it."""
        if not self._requests:  # the usual case once streams are flowing: nothing to look up
            return []
        events = self._requests.acknowledged(stream, received_ns)
        if stream in self._streams:
            events += self._requests.acknowledged(stream, received_ns, unsubscribe=True)
        return events

    def _book(self, message: BookMessage, frame: bytes | str, received_ns: int) -> list[Event]:
        symbol = self.symbols.from_wire(message.security)
        if self._retiring and (symbol in self._retiring or EVERY_SYMBOL in self._retiring):
            return []  # in flight when the unsubscribe left: the ended stream's, not the new one's snapshot
        security = self._securities.get(symbol)
        if security is None:
            every = self._securities.get(EVERY_SYMBOL)  # a "*" subscription: each new security starts a book
            if every is None:
                raise WireValueError(f"book message for {message.security}, which is not subscribed")
            security = self._securities[symbol] = _Security(windows=dict.fromkeys(every.windows), every=True)
        events = self._confirmations(("book", symbol), received_ns) + self._confirmations(("book", "*"), received_ns)
        if security.broken:
            return events
        snapshot = not security.synced if self._dialect.snapshot_mode == "first_message" else message.snapshot
        try:
            latest = _latest_time(message.books)
            security.book.apply(message.books, zero_qty_is_remove=self._dialect.zero_qty_is_remove, replace=snapshot)
        except ValueError as exc:
            return events + self._refused_book(symbol, security, frame, exc, received_ns)
        for depth, held in security.windows.items():
            bids = security.book.top("B", depth)
            asks = security.book.top("S", depth)
            if snapshot or held is None:
                events.append(
                    BookSnapshot(
                        exchange=self.exchange,
                        symbol=symbol,
                        depth=depth,
                        bids=tuple(BookLevel(p, q) for p, q in bids),
                        asks=tuple(BookLevel(p, q) for p, q in asks),
                        ts_exchange=latest,
                        ts_received=received_ns,
                    )
                )
            else:
                bid_changes = _changes(held[0], bids, depth, bids=True)
                ask_changes = _changes(held[1], asks, depth, bids=False)
                if bid_changes or ask_changes:
                    events.append(
                        BookUpdate(
                            exchange=self.exchange,
                            symbol=symbol,
                            depth=depth,
                            bids=bid_changes,
                            asks=ask_changes,
                            ts_exchange=latest,
                            ts_received=received_ns,
                        )
                    )
            security.windows[depth] = (bids, asks)
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
        """A malformed book message, refused whole: its error, and each depth's book known to be behind
        the venue's (one it never saw whole, after a malformed snapshot) until the feed resubscribes it."""
        security.broken = True
        error = undecodable_frame(self, frame, exc, received_ns)
        if not security.windows:  # only quotes come from this book, and only a new connection resubscribes them
            self.reconnect_reason = f"malformed book message for {symbol}"
            return [error]
        invalidated: list[Event] = [
            BookInvalidated(
                exchange=self.exchange, symbol=symbol, depth=depth, reason="malformed", ts_received=received_ns
            )
            for depth in security.windows
        ]
        return [error, *invalidated]

    def _trade(self, message: TradeMessage, received_ns: int) -> list[Event]:
        symbol = self.symbols.from_wire(message.security)
        events = self._confirmations(("trade", symbol), received_ns)
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
                refusals = self._requests.refused(
                    key, message.result, received_ns, unsubscribe=unsubscribing, symbol=key[1]
                )
                if not unsubscribing:
                    self._refused(key, refusals)
                events += refusals
        return events

    def _refused(self, stream: _Stream, refusals: list[SubscriptionError]) -> None:
        """The venue refused to start ``stream``: its subscriptions no longer hold it."""
        for refusal in refusals:
            if refusal.subscription is not None:
                ended = self._streams.detach(stream, refusal.subscription)
                self._leave(refusal.subscription, ended=ended)

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
