"""A local Midchains exchange: order-level book entries and trades over the shared synthetic market.

Each price level of the market is one resting entry with a large integer id (above 2^53, as on
the real venue); the session tells each subscriber which entries were added (A), updated (U) or
removed (R). Behaviour the documentation leaves open follows the same ``MidchainsDialect`` the
adapter reads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from adapters.midchains.dialect import DEFAULT_DIALECT, MidchainsDialect
from adapters.midchains.symbols import SYMBOLS
from adapters.midchains.wire import Request, RequestItem
from sdk.simulation.market import Instrument, InstrumentState, MarketStep, SimTrade, SyntheticMarket
from sdk.simulation.session import Reply, Session
from sdk.simulation.simulator import Simulator

FIRST_ID = 2**53 + 7
"""Entry ids start beyond 2^53, where a float would lose them."""
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class MidchainsSimulator(Simulator):
    """Midchains on loopback. ``xfeeds simulate midchains --port 8081`` runs one."""

    def __init__(self, *, dialect: MidchainsDialect = DEFAULT_DIALECT, **options: Any) -> None:
        super().__init__(**options)
        self.dialect = dialect

    def instruments(self) -> list[Instrument]:
        return [
            Instrument("BTC/USD", Decimal("30000"), Decimal("0.1"), Decimal("0.0001")),
            Instrument("BCH/USD", Decimal("245"), Decimal("0.01"), Decimal("0.001")),
            Instrument("ETH/USD", Decimal("2000"), Decimal("0.01"), Decimal("0.001")),
            Instrument("LTC/USD", Decimal("80"), Decimal("0.01"), Decimal("0.001")),
        ]

    def new_session(self) -> MidchainsSession:
        return MidchainsSession(self.market, self.dialect)


class MidchainsSession(Session):
    """One client connection: its subscriptions and, per book, the entries it has been sent."""

    def __init__(self, market: SyntheticMarket, dialect: MidchainsDialect = DEFAULT_DIALECT) -> None:
        super().__init__(market)
        self._dialect = dialect
        self._decoder = msgspec.json.Decoder(Request)
        self._encoder = msgspec.json.Encoder()
        self._books: dict[str, dict[tuple[str, Decimal], tuple[int, Decimal]]] = {}
        self._trades: set[str] = set()
        self._next_id = FIRST_ID

    def on_open(self, now_ns: int) -> list[str]:
        return [self._encode({"type": "open", "time": _ms(now_ns)})] if self._dialect.open_notice else []

    def heartbeat(self, now_ns: int) -> str | None:
        if not (self._books or self._trades):
            return None
        return self._encode({"type": self._dialect.heartbeat_type, "time": _ms(now_ns)})

    def on_message(self, data: bytes, now_ns: int) -> Reply:
        reply = Reply()
        request = self._request(data)
        if request is None:
            reply.send(self._encode({"type": "error", "result": "invalid message"}))
            return reply
        refused: dict[str, list[RequestItem]] = {}
        accepted = []
        for item in request.request:
            problem = self._refusal(item)
            if problem is None:
                accepted.append(item)
            else:
                refused.setdefault(problem, []).append(item)
        for problem, items in refused.items() if self._dialect.refusal_result else ():
            reply.send(self._encode({"type": request.type, "result": problem, "request": items}))
        for item in accepted:
            symbol = SYMBOLS.from_wire(item.security)
            every = list(self.market.states) if item.security == "*" else [symbol]
            if request.type == "unsubscribe":
                for each in every:
                    self._books.pop(each, None) if item.msg == "book" else self._trades.discard(each)
            elif item.msg == "book":
                for each in every:
                    reply.send(self._book_snapshot(each, now_ns))
            else:
                self._trades.add(symbol)
                for trade in list(self.market.state(symbol).recent)[-self._dialect.trade_replay :]:
                    reply.send(self._trade(symbol, trade))
        if request.type == "unsubscribe" and accepted:
            reply.send(self._encode({"type": "unsubscribe", "result": "OK", "request": accepted}))
        if request.type == "subscribe" and accepted and self._dialect.positive_acks:
            reply.ack(self._encode({"type": "subscribe", "result": "OK", "request": accepted}))
        return reply

    def refuse(self, data: bytes, reason: str, now_ns: int) -> list[str] | None:
        request = self._request(data)
        if request is None or request.type != "subscribe":
            return None
        if not self._dialect.refusal_result:
            return []
        return [self._encode({"type": "subscribe", "result": reason, "request": request.request})]

    def _request(self, data: bytes) -> Request | None:
        """The subscribe or unsubscribe request in ``data``, or None for anything else."""
        try:
            request = self._decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return request if request.type in ("subscribe", "unsubscribe") else None

    def _refusal(self, item: RequestItem) -> str | None:
        if item.msg not in ("book", "trade"):
            return "invalid msg"
        if item.dest != self._dialect.dest:
            return "invalid dest"
        if item.security == "*" and item.msg == "book":
            return None
        if SYMBOLS.from_wire(item.security) not in self.market.states:
            return "invalid security"
        return None

    # -- market data ------------------------------------------------------------------------

    def _book_snapshot(self, symbol: str, now_ns: int) -> str:
        """Every resting entry as an update (``act: U``), in one message (A6)."""
        state = self.market.state(symbol)
        held = self._books[symbol] = {}
        entries = []
        now = _ms(now_ns)
        for side, book in (("B", state.bids), ("S", state.asks)):
            for price, qty in book.top(len(book.qty)):
                held[(side, price)] = (self._take_id(), qty)
                entries.append(self._entry("U", side, price, held[(side, price)], now=now, state=state))
        # an indication of interest: shown in the entries, never part of the L2 book
        ioi_price = state.bids.worst() or state.instrument.price
        entries.append(
            {
                **self._entry("U", "B", ioi_price, (self._take_id(), state.instrument.lot), now=now, state=state),
                "ioi": True,
            }
        )
        return self._encode({"security": SYMBOLS.to_wire(symbol), "books": entries, "type": "book"})

    def on_market(self, steps: list[MarketStep]) -> list[str]:
        frames = []
        for step in steps:
            symbol = step.symbol
            if symbol in self._trades:
                frames += [self._trade(symbol, trade) for trade in step.trades]
            held = self._books.get(symbol)
            if held is not None:
                entries = self._book_changes(self.market.state(symbol), held, _ms(step.time_ns))
                if entries:
                    frames.append(self._encode({"security": SYMBOLS.to_wire(symbol), "books": entries, "type": "book"}))
        return frames

    def _book_changes(
        self, state: InstrumentState, held: dict[tuple[str, Decimal], tuple[int, Decimal]], now: str
    ) -> list[dict[str, Any]]:
        """Entries turning what the subscriber holds into the market's current book."""
        current = {("B", p): q for p, q in state.bids.qty.items()} | {("S", p): q for p, q in state.asks.qty.items()}
        entries = []
        for key in [k for k in held if k not in current]:
            entry_id, _ = held.pop(key)
            entries.append({"act": "R", "id": entry_id, "side": key[0]})
        for key, qty in current.items():
            previous = held.get(key)
            if previous is None:
                held[key] = (self._take_id(), qty)
                entries.append(self._entry("A", key[0], key[1], held[key], now=now, state=state))
            elif previous[1] != qty:
                held[key] = (previous[0], qty)
                entries.append(self._entry("U", key[0], key[1], held[key], now=now, state=state))
        return entries

    def _entry(
        self, act: str, side: str, price: Decimal, held: tuple[int, Decimal], *, now: str, state: InstrumentState
    ) -> dict[str, Any]:
        entry_id, qty = held
        return {
            "side": side,
            "act": act,
            "src": self._dialect.dest,
            "price": _text(price, state.instrument.tick),
            "qty": _text(qty, state.instrument.lot),
            "id": entry_id,
            "time": now,
            "mpid": "ANON",
            "key": "NA",
        }

    def _trade(self, symbol: str, trade: SimTrade) -> str:
        state = self.market.state(symbol)
        return self._encode(
            {
                "security": SYMBOLS.to_wire(symbol),
                "src": self._dialect.dest,
                "price": _text(trade.price, state.instrument.tick),
                "qty": _text(trade.qty, state.instrument.lot),
                "time": _ms(trade.time_ns),
                "type": "trade",
                "matchid": _match_id(symbol, trade.trade_id),
                "maker_side": "S" if trade.side == "buy" else "B",
            }
        )

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _encode(self, message: dict[str, Any]) -> str:
        return self._encoder.encode(message).decode()


def _ms(ns: int) -> str:
    return str(ns // 1_000_000)


def _text(value: Decimal, increment: Decimal) -> str:
    return str(value.quantize(increment))


def _match_id(symbol: str, trade_id: int) -> str:
    """A 12-character base-36 match id, unique per symbol and trade."""
    number = trade_id * 64 + sum(map(ord, symbol)) % 64
    digits = ""
    while number:
        number, digit = divmod(number, 36)
        digits = _BASE36[digit] + digits
    return digits.rjust(12, "0")
