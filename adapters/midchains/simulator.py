"""A local Midchains exchange: order-level book entries and trades over the shared synthetic market,
and trading on the same socket (``adapters.midchains.trading_simulator``).

Each price level of the market is one resting entry with a large integer id (above 2^53, as on
the real venue); the session tells each subscriber which entries were added (A), updated (U) or
removed (R). Behaviour the documentation leaves open follows the same ``MidchainsDialect`` the
adapter reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from adapters.midchains.dialect import DEFAULT_DIALECT, MidchainsDialect
from adapters.midchains.instruments import PAIRS
from adapters.midchains.symbols import SYMBOLS
from adapters.midchains.trading_simulator import PRIVATE_TYPES, MidchainsDesk, MidchainsTradingSession, base36
from adapters.midchains.wire import Request, RequestItem
from sdk.credentials import Credentials
from sdk.simulation.desk import TradingFaults
from sdk.simulation.market import Instrument, InstrumentState, MarketStep, SimTrade, SyntheticMarket
from sdk.simulation.matching import MatchingEngine
from sdk.simulation.session import Reply, Session
from sdk.simulation.simulator import Simulator

FIRST_ID = 2**53 + 7
"""Entry ids start beyond 2^53, where a float would lose them."""
DEFAULT_TEST_USER = "xfeeds-test"
DEFAULT_TEST_PASSWORD = "loopback-only-password"
"""The account a simulator opens when given none."""
OPENING_PRICES: dict[str, Decimal] = {
    "BTC/USD": Decimal(30_000),
    "BCH/USD": Decimal(245),
    "ETH/USD": Decimal(2_000),
    "LTC/USD": Decimal(80),
}
"""Where each listed pair's synthetic market starts."""
DEFAULT_BALANCES: dict[str, Decimal] = {
    "USD": Decimal(100_000),
    "BTC": Decimal(10),
    "ETH": Decimal(100),
    "LTC": Decimal(1_000),
    "BCH": Decimal(100),
}


class _Kind(msgspec.Struct, gc=False):
    type: str = ""


class MidchainsSimulator(TradingFaults, Simulator):
    """Midchains on loopback, market data and trading on one socket: ``xfeeds simulate midchains
    --port 8081`` runs one.

    ``accounts`` maps user ids to passwords (default: one test account, ``DEFAULT_TEST_USER`` /
    ``DEFAULT_TEST_PASSWORD``); each starts with ``balances``. Login passwords are encrypted with
    a key pair generated for this simulator; ``public_key`` is what ``challenge`` serves.
    """

    desk: MidchainsDesk

    def __init__(
        self,
        *,
        dialect: MidchainsDialect = DEFAULT_DIALECT,
        accounts: Mapping[str, str] | None = None,
        balances: Mapping[str, Decimal] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.dialect = dialect
        self.accounts = dict(accounts or {DEFAULT_TEST_USER: DEFAULT_TEST_PASSWORD})
        self.desk = MidchainsDesk(
            self.market, self.accounts, balances or DEFAULT_BALANCES, dialect, options.get("seed", 1)
        )

    @property
    def auth_url(self) -> str:
        """Where an account connects: the one socket, market data and trading alike."""
        return self.url

    @property
    def rest_url(self) -> str:
        """Midchains has no REST side; accounts log in on the socket."""
        return self.url

    @property
    def credentials(self) -> Credentials:
        """The first test account's user id and password."""
        user, password = next(iter(self.accounts.items()))
        return Credentials(key=user, secret=password)

    def issued_secrets(self) -> list[str]:
        """None: Midchains issues no session tokens (the password is the one secret)."""
        return []

    @property
    def engine(self) -> MatchingEngine:
        return self.desk.engine

    @property
    def public_key(self) -> str:
        """The login key: base64 DER SubjectPublicKeyInfo of an RSA key generated for this simulator."""
        return self.desk.public_key

    @property
    def banner(self) -> list[str]:
        return [f"test account: userid {user!r}, password {password!r}" for user, password in self.accounts.items()]

    @property
    def refuse_logins(self) -> str | None:
        """When set, every login is answered with this ``result`` (a locked account, say)."""
        return self.desk.refuse_logins

    @refuse_logins.setter
    def refuse_logins(self, result: str | None) -> None:
        self.desk.refuse_logins = result

    def derived_state(self, refno: str) -> str:
        """The state order ``refno``'s rows stand for, by the dialect (the venue sends no status):
        an order done short of its quantity is ``dialect.finished_short``."""
        return self.desk.derived_state(next(o for o in self._all_orders() if o.venue_id == refno))

    def _all_orders(self) -> list[Any]:
        return [o for user in self.accounts for o in self.engine.open_orders(user) + self.engine.closed_orders(user)]

    def on_tick(self, steps: list[MarketStep], now_ns: int) -> None:
        self.desk.tick(steps, now_ns)

    def instruments(self) -> list[Instrument]:
        """The listed pairs on the grid the account's pre-trade check reads (``adapters.midchains.instruments``)."""
        return [Instrument(pair.symbol, OPENING_PRICES[pair.symbol], pair.tick, pair.lot) for pair in PAIRS]

    def new_session(self) -> MidchainsSession:
        return MidchainsSession(self.market, self.dialect, MidchainsTradingSession(self.desk))


class MidchainsSession(Session):
    """One client connection: its subscriptions, per book the entries it has been sent, and its
    trading side (``trading``, None where a benchmark renders market data alone)."""

    def __init__(
        self,
        market: SyntheticMarket,
        dialect: MidchainsDialect = DEFAULT_DIALECT,
        trading: MidchainsTradingSession | None = None,
    ) -> None:
        super().__init__(market)
        self._dialect = dialect
        self._trading = trading
        self._kinds = msgspec.json.Decoder(_Kind)
        self._decoder = msgspec.json.Decoder(Request)
        self._encoder = msgspec.json.Encoder()
        self._books: dict[str, dict[tuple[str, Decimal], tuple[int, Decimal]]] = {}
        self._trades: set[str] = set()
        self._next_id = FIRST_ID

    def on_open(self, now_ns: int) -> list[str]:
        if self._trading is not None:
            self._trading.opened(now_ns)
        return [self._encode({"type": "open", "time": _ms(now_ns)})] if self._dialect.open_notice else []

    def heartbeat(self, now_ns: int) -> str | None:
        if not (self._books or self._trades):
            return None
        return self._encode({"type": self._dialect.heartbeat_type, "time": _ms(now_ns)})

    def closing(self, now_ns: int) -> str | None:
        return None if self._trading is None else self._trading.closing(now_ns)

    def on_message(self, data: bytes, now_ns: int) -> Reply:
        if self._trading is not None and self._private(data):
            return self._trading.answer(msgspec.json.decode(data), now_ns)
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

    def _private(self, data: bytes) -> bool:
        try:
            return self._kinds.decode(data).type in PRIVATE_TYPES
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False

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
        frames = [] if self._trading is None else self._trading.drain()
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
    return base36(trade_id * 64 + sum(map(ord, symbol)) % 64, 12)
