"""Midchains' trading side of the local simulator, on the same socket as its market data.

``MidchainsDesk`` is the simulator's one trading venue (accounts and passwords, the RSA key pair
that login passwords are encrypted with, the matching engine, each user's request allowance);
``MidchainsTradingSession`` is one connection's private protocol over it: challenge, login within
the login window, logout, ``addorder``, ``cancelorder``, the queries, and the pushed ``order``,
``sale`` and ``position`` rows. Every reply has the shape of the documentation's examples; what
the documentation leaves open follows the ``MidchainsDialect`` switches the client reads too.
Sans-I/O, like every simulator session.

Assumed beyond the dialect (no document says): a private request before login is answered with
``NOT_LOGGED_IN``; an order's reply comes before its pushed rows; a fill pushes its ``sale`` row,
then its ``order`` row, then the two ``position`` rows; an order done at once pushes no row for
its acceptance; the refusal texts marked as assumed below.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from adapters.midchains.dialect import MidchainsDialect
from adapters.midchains.symbols import SYMBOLS
from sdk.pacing import RequestLimit
from sdk.simulation.allowance import RequestAllowance
from sdk.simulation.desk import OrderTerms, TradingDesk
from sdk.simulation.market import SyntheticMarket
from sdk.simulation.matching import (
    BalanceChanged,
    Fill,
    MatchingEngine,
    Order,
    OrderAccepted,
    OrderClosed,
    OrderFilled,
    OrderRejected,
    OrderSpec,
    Record,
    TimeInForce,
    check_grid,
    record_account,
)
from sdk.simulation.session import Outgoing, Reply

OK: Final = "OK"
INVALID_LOGIN: Final = "invalid user/password"
MARKET_BUY_QTY: Final = "cannot use qty for market buy order"
ORDER_NOT_FOUND: Final = "order not found"
NO_POSITION: Final = "no position"
NOT_ENOUGH_FUND: Final = "not enough fund"
NOT_LOGGED_IN: Final = "not logged in"
"""Assumed: the answer to a private request before login."""
INVALID_ORDER: Final = "invalid order"
"""Assumed: an ``addorder`` whose fields or combination the venue does not support."""
POST_ONLY_WOULD_TAKE: Final = "post only order would take liquidity"
"""Assumed."""
DUPLICATE_CLIENT_ID: Final = "duplicate clientorderid"
"""Assumed: a ``clientorderid`` already used by an open order."""
PRICE_OFF_GRID: Final = "invalid price"
"""Assumed: a price not a whole number of the pair's ticks (``adapters.midchains.instruments``)."""
QTY_OFF_GRID: Final = "invalid qty"
"""Assumed: a quantity not a whole number of the pair's lots."""
QTY_BELOW_MINIMUM: Final = "qty below minimum"
"""Assumed: a quantity below one lot."""
INVALID_SECURITY: Final = "invalid security"
"""As the market-data side words it."""
LOGIN_TIMEOUT: Final = "login timeout"
"""Assumed: the close reason of a socket not logged in within the login window."""

PRIVATE_TYPES: Final = frozenset(
    {
        "challenge",
        "login",
        "logout",
        "addorder",
        "cancelorder",
        "queryorder",
        "querymultiorders",
        "querymultiorder",
        "querytrade",
        "querypos",
        "querypendingpos",
    }
)
"""Request types of the private side (``querymultiorder`` is how the documentation's example spells it)."""
PRIVATE_LIMIT: Final = RequestLimit(per_second=5, burst=10)
PAGE: Final = 100
"""Query records per reply."""
FIRM: Final = "MIDC"
BASE36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORDER_FIELDS: Final = (
    "security",
    "side",
    "qty",
    "price",
    "amount",
    "ordertype",
    "tif",
    "stoptype",
    "stopprice",
    "exptime",
)
_COMBOS: Final = {
    ("LMT", False): {"GTC", "IOC", "FOK", "GTT"},
    ("MKT", False): {"IOC", "FOK"},
    ("MKT", True): {"IOC", "FOK"},
    ("LMT", True): {"GTC", "IOC", "FOK"},
}
"""(order type, stop) -> its time-in-force values: the documentation's supported orders."""
_REFUSALS: Final = {
    OrderRejected.INSUFFICIENT_FUNDS: NOT_ENOUGH_FUND,
    OrderRejected.POST_ONLY_WOULD_TAKE: POST_ONLY_WOULD_TAKE,
    OrderRejected.UNKNOWN_SYMBOL: INVALID_SECURITY,
    OrderRejected.INVALID_ORDER: INVALID_ORDER,
    OrderRejected.UNKNOWN_ORDER: ORDER_NOT_FOUND,
    OrderRejected.DUPLICATE_CLIENT_ID: DUPLICATE_CLIENT_ID,
    OrderRejected.PRICE_OFF_GRID: PRICE_OFF_GRID,
    OrderRejected.QTY_OFF_GRID: QTY_OFF_GRID,
    OrderRejected.QTY_BELOW_MINIMUM: QTY_BELOW_MINIMUM,
}


def base36(number: int, width: int) -> str:
    """``number`` in upper-case base 36, zero-padded to ``width``: how the venue writes its ids."""
    digits = ""
    while number:
        number, digit = divmod(number, 36)
        digits = BASE36[digit] + digits
    return digits.rjust(width, "0")


def _venue_id(serial: int, width: int) -> str:
    """A distinct id of ``width`` base-36 digits per serial, starting with 5 as the venue's do."""
    span = 36 ** (width - 1)
    return base36(5 * span + serial * _SPREAD % span, width)


_SPREAD: Final = 2_654_435_761
"""Coprime with 36: serials map one to one onto ids that look random."""


class _Refused(Exception):
    """A request the venue answers with ``result`` set to this text."""


class MidchainsDesk(TradingDesk["MidchainsTradingSession"]):
    """The simulator's trading venue, shared by every connection: orders are counted as received
    per ``clientorderid`` (when the dialect has one) and per terms."""

    def __init__(
        self,
        market: SyntheticMarket,
        accounts: Mapping[str, str],
        balances: Mapping[str, Decimal],
        dialect: MidchainsDialect,
        seed: int,
    ) -> None:
        refnos, fills = itertools.count(seed * 36**8), itertools.count(seed * 36**6)
        engine = MatchingEngine(
            market, new_order_id=lambda: _venue_id(next(refnos), 14), new_fill_id=lambda: _venue_id(next(fills), 12)
        )
        super().__init__(engine, rate_limit_error=dialect.rate_limit_result)
        self.dialect = dialect
        self.passwords = dict(accounts)
        for userid in accounts:
            engine.open_account(userid, dict(balances))
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()
        """What ``challenge`` serves: base64 DER SubjectPublicKeyInfo."""
        self.refuse_logins: str | None = None
        self.logins = 0
        """Login requests answered, whatever their result."""
        self.allowances: dict[str, RequestAllowance] = {}

    def login(self, userid: str, encrypted: str) -> str:
        """The ``result`` of a login: ``OK`` when ``encrypted`` is the user's password."""
        self.logins += 1
        if self.refuse_logins is not None:
            return self.refuse_logins
        try:
            plain = self.private_key.decrypt(base64.b64decode(encrypted, validate=True), padding.PKCS1v15())
        except (binascii.Error, ValueError):
            return INVALID_LOGIN
        expected = self.passwords.get(userid)
        return OK if expected is not None and plain == expected.encode() else INVALID_LOGIN

    def admits(self, userid: str, now_ns: int) -> bool:
        """Whether the user's private request at ``now_ns`` is within the venue's limit."""
        return self.allowances.setdefault(userid, RequestAllowance(PRIVATE_LIMIT)).admit(now_ns)

    def derived_state(self, order: Order) -> str:
        """The state the order's rows stand for under the dialect (the venue sends no status)."""
        if order.open:
            return "partially_filled" if order.filled else "new"
        if order.spec.qty is None:
            return "filled" if order.filled else self.dialect.finished_short
        return "filled" if order.filled == order.spec.qty else self.dialect.finished_short


class MidchainsTradingSession:
    """One connection's private side: its login, and the rows waiting to be pushed to it."""

    def __init__(self, desk: MidchainsDesk) -> None:
        self.desk = desk
        self.dialect = desk.dialect
        self._encoder = msgspec.json.Encoder()
        self._opened_ns: int | None = None
        self._asked = False
        self.userid: str | None = None
        self._positions = False
        """Whether position rows are pushed (after a login snapshot, or once ``querypos`` asked)."""
        self._waiting: list[dict[str, Any]] = []
        desk.sessions.add(self)

    def opened(self, now_ns: int) -> None:
        self._opened_ns = now_ns

    def closing(self, now_ns: int) -> str | None:
        """``LOGIN_TIMEOUT`` once a connection that asked for trading outlives the login window
        without logging in; a market-data-only connection is never closed for that."""
        if not self._asked or self.userid is not None or self._opened_ns is None:
            return None
        return LOGIN_TIMEOUT if now_ns - self._opened_ns >= self.dialect.login_window_s * 1e9 else None

    def drain(self) -> list[str]:
        """The pushed frames of records delivered since the last drain."""
        rows, self._waiting = self._waiting, []
        if self.dialect.pushes == "rows":
            return [self._encode(row) for row in rows]
        frames = []
        for kind, group in itertools.groupby(rows, key=lambda row: row["type"]):
            frames.append(self._encode({"type": kind, "data": list(group)}))
        return frames

    def deliver(self, records: list[Record]) -> None:
        if self.userid is None:
            return
        for record in records:
            if record_account(record) != self.userid:
                continue
            if isinstance(record, BalanceChanged):
                if self._positions:
                    self._waiting.append(_position_row(record.asset, record.balance))
            elif isinstance(record, OrderFilled):
                self._waiting.append(self._sale_row(record.fill, record.order))
                if record.order.spec.qty is not None:
                    self._waiting.append(self._order_row(record.order, record.fill.time_ns))
            elif isinstance(record, OrderAccepted):
                if self.desk.engine.order(self.userid, venue_id=record.order.venue_id).open:
                    self._waiting.append(self._order_row(record.order, record.time_ns))
            elif isinstance(record, OrderClosed) and (record.order.status != "filled" or record.order.spec.qty is None):
                self._waiting.append(self._order_row(record.order, record.time_ns))

    # -- requests ---------------------------------------------------------------------------

    def answer(self, request: dict[str, Any], now_ns: int) -> Reply:
        self._asked = True
        kind = request["type"]
        reply = Reply()
        if kind == "challenge":
            reply.send(self._encode({"result": OK, "type": "challenge", "key": self.desk.public_key}))
        elif kind == "login":
            self._login(request, reply)
        elif kind == "logout":
            reply.send(self._encode({"result": OK, "type": "logout"}))
            reply.close_after = True
        elif self.userid is None:
            reply.send(self._encode({"result": NOT_LOGGED_IN, **_echo(request)}))
        else:
            return self._private(self.userid, kind, request, now_ns)
        return reply

    def _login(self, request: dict[str, Any], reply: Reply) -> None:
        userid, encrypted = request.get("userid"), request.get("pass")
        if not isinstance(userid, str) or not isinstance(encrypted, str):
            result = INVALID_LOGIN
        else:
            result = self.desk.login(userid, encrypted)
        reply.send(self._encode({"result": result, "type": "login"}))
        if result != OK:
            return
        self.userid = str(userid)
        if self.dialect.login_snapshot:
            self._positions = True
            engine = self.desk.engine
            self._waiting += [self._order_row(o, self._updated_ns(o)) for o in engine.open_orders(self.userid)]
            self._waiting += [_position_row(a, h.total) for a, h in sorted(engine.holdings(self.userid).items())]
            reply.outgoing += [Outgoing(frame, ack=False) for frame in self.drain()]

    def _private(self, userid: str, kind: str, request: dict[str, Any], now_ns: int) -> Reply:
        reply = Reply()
        if kind == "addorder":
            self._count(request)
        refusal = self.desk.next_rejection() if kind in ("addorder", "cancelorder") else None  # order requests only
        if refusal is None and not self.desk.admits(userid, now_ns):
            refusal = self.dialect.rate_limit_result
        if refusal is not None:
            reply.send(self._encode({"result": refusal, **_echo(request)}))
            return reply
        try:
            if kind == "addorder":
                return self._add_order(userid, request, now_ns)
            if kind == "cancelorder":
                self._cancel(userid, request, reply, now_ns)
            elif kind == "queryorder":
                self._query_order(userid, request, reply)
            elif kind in ("querymultiorders", "querymultiorder"):
                self._query_orders(userid, request, reply)
            elif kind == "querytrade":
                self._query_trades(userid, request, reply)
            else:
                self._query_positions(userid, kind, request, reply)
        except _Refused as refused:
            reply.send(self._encode({"result": str(refused), **_echo(request)}))
        reply.outgoing += [Outgoing(frame, ack=False) for frame in self.drain()]
        return reply

    def _add_order(self, userid: str, request: dict[str, Any], now_ns: int) -> Reply:
        echo = _echo(request, self._order_fields())
        reply = Reply()
        try:
            spec = self._spec(request)
            check_grid(spec, self.desk.engine.market.state(spec.symbol).instrument)
            order, records = self.desk.engine.place(userid, spec, now_ns)
        except _Refused as refused:
            reply.send(self._encode({"result": str(refused), **echo}))
            return reply
        except OrderRejected as rejected:
            reply.send(self._encode({"result": _REFUSALS[rejected.reason], **echo}))
            return reply
        self.desk.publish(records)
        if self.desk.drops_reply():
            self.drain()
            return Reply(hang_up=True)
        reply.send(self._encode({"result": OK, **echo, "refno": order.venue_id}))
        reply.outgoing += [Outgoing(frame, ack=False) for frame in self.drain()]
        return reply

    def _cancel(self, userid: str, request: dict[str, Any], reply: Reply, now_ns: int) -> None:
        engine = self.desk.engine
        if "security" not in request and not self.dialect.cancel_by_refno:
            raise _Refused(INVALID_SECURITY)
        try:
            order = engine.order(userid, venue_id=str(request.get("refno", "")))
            records = engine.cancel(order, now_ns)
        except OrderRejected:
            raise _Refused(ORDER_NOT_FOUND) from None
        reply.send(self._encode({"result": OK, **_echo(request)}))
        self.desk.publish(records)

    def _query_order(self, userid: str, request: dict[str, Any], reply: Reply) -> None:
        try:
            order = self.desk.engine.order(userid, venue_id=str(request.get("refno", "")))
        except OrderRejected:
            raise _Refused(ORDER_NOT_FOUND) from None
        row = self._order_row(order, self._updated_ns(order))
        answer = {"result": OK, "refno": order.venue_id, "data": row, "security": row["security"], "type": "queryorder"}
        reply.send(self._encode(answer))

    def _query_orders(self, userid: str, request: dict[str, Any], reply: Reply) -> None:
        engine = self.desk.engine
        orders = engine.open_orders(userid) + engine.closed_orders(userid)
        rows = [self._order_row(order, self._updated_ns(order)) for order in orders]
        rows = sorted(_since(_of_security(rows, request), request, "updtime"), key=lambda row: int(row["updtime"]))
        for frame in _pages("querymultiorders", rows, {}):
            reply.send(self._encode(frame))

    def _query_trades(self, userid: str, request: dict[str, Any], reply: Reply) -> None:
        engine = self.desk.engine
        fills = engine.fills(userid, last=10**9)
        rows = [self._sale_row(fill, engine.order(userid, venue_id=fill.venue_id)) for fill in fills]
        for frame in _pages("querytrade", _since(_of_security(rows, request), request, "trdtime"), {}):
            reply.send(self._encode(frame))

    def _query_positions(self, userid: str, kind: str, request: dict[str, Any], reply: Reply) -> None:
        asset = request.get("security")
        holdings = sorted(self.desk.engine.holdings(userid).items())
        if kind == "querypendingpos":
            rows = [
                _position_row(a, h.total) | {"managedpos": _text(h.held), "openpos": "0"}
                for a, h in holdings
                if asset in (None, a)
            ]
        else:
            rows = [_position_row(a, h.total) for a, h in holdings if asset in (None, a)]
            self._positions = True  # "and continuous updates afterwards"
        if not rows:  # documented without an echo of the request
            reply.send(self._encode({"result": NO_POSITION, "type": kind}))
            return
        extra = {"firm": FIRM, "userid": userid} if kind == "querypos" else {}
        for frame in _pages(kind, rows, extra):
            reply.send(self._encode(frame))

    def _count(self, request: dict[str, Any]) -> None:
        """Count an ``addorder`` as received, by its client order id and, if they parse, its terms."""
        client_id = request.get("clientorderid") if self.dialect.client_id_echo else None
        try:
            terms: OrderTerms | None = OrderTerms.of(self._spec(request))
        except _Refused:
            terms = None
        self.desk.received(client_id if isinstance(client_id, str) else None, terms)

    # -- orders -----------------------------------------------------------------------------

    def _order_fields(self) -> tuple[str, ...]:
        fields: tuple[str, ...] = _ORDER_FIELDS
        if self.dialect.client_id_echo:
            fields += ("clientorderid",)
        if self.dialect.post_only == "alo":
            fields += ("alo",)
        return fields

    def _spec(self, request: dict[str, Any]) -> OrderSpec:
        """The order ``request`` asks for, or ``_Refused`` with the venue's words."""
        security = request.get("security")
        symbol = SYMBOLS.from_wire(security) if isinstance(security, str) else ""
        if symbol not in self.desk.engine.market.states:
            raise _Refused(INVALID_SECURITY)
        side = {"B": "buy", "S": "sell"}.get(str(request.get("side")))
        ordertype, tif = str(request.get("ordertype", "LMT")), str(request.get("tif", "GTC"))
        post_only = False
        if ordertype == "POST" and self.dialect.post_only == "ordertype":
            ordertype, post_only = "LMT", True
        elif self.dialect.post_only == "alo":
            post_only = request.get("alo") is True
        stop = request.get("stoptype")
        if side is None or stop not in (None, "STOP") or tif not in _COMBOS.get((ordertype, stop is not None), ()):
            raise _Refused(INVALID_ORDER)
        qty, price, amount = _decimal(request, "qty"), _decimal(request, "price"), _decimal(request, "amount")
        stop_price = _decimal(request, "stopprice")
        if ordertype == "MKT" and side == "buy" and qty is not None:
            raise _Refused(MARKET_BUY_QTY)
        if (
            (stop is not None and stop_price is None)
            or (post_only and (tif != "GTC" or stop is not None))
            or ((ordertype == "LMT") != (price is not None))
            or (amount is not None and (ordertype, side) != ("MKT", "buy"))
        ):
            raise _Refused(INVALID_ORDER)
        client_id = request.get("clientorderid") if self.dialect.client_id_echo else None
        return OrderSpec(
            symbol=symbol,
            side="buy" if side == "buy" else "sell",
            kind="limit" if ordertype == "LMT" else "market",
            qty=qty,
            quote_qty=amount,
            price=price,
            time_in_force=_TIFS[tif],
            post_only=post_only,
            client_id=str(client_id) if client_id is not None else None,
            stop_price=stop_price,
            expire_ns=_expiry(request) if tif == "GTT" else None,
        )

    # -- rows -------------------------------------------------------------------------------

    def _order_row(self, order: Order, time_ns: int) -> dict[str, Any]:
        spec = order.spec
        row: dict[str, Any] = {
            "updtime": _ms(time_ns),
            "tif": "GTT" if spec.expire_ns is not None else spec.time_in_force.upper(),
            "execamount": _text(order.cost),
            "security": SYMBOLS.to_wire(spec.symbol),
            "type": "order",
        }
        if spec.qty is not None:
            row["qty"] = _text(spec.qty)
        if spec.quote_qty is not None:
            row["amount"] = _text(spec.quote_qty)
        if spec.client_id is not None:
            row["clientorderid"] = spec.client_id
        row |= {
            "liveqty": _text(order.remaining or Decimal(0)) if order.open else "0",
            "category": self.dialect.dest,
            "refno": order.venue_id,
        }
        if spec.price is not None:
            row["price"] = _text(spec.price)
        if spec.stop_price is not None:
            row |= {"stoptype": "STOP", "stopprice": _text(spec.stop_price)}
        return row | {"execqty": _text(order.filled), "side": "B" if spec.side == "buy" else "S"}

    def _sale_row(self, fill: Fill, order: Order) -> dict[str, Any]:
        row: dict[str, Any] = {
            "refno": fill.venue_id,
            "category": self.dialect.dest,
            "execqty": _text(fill.qty),
            "execprice": _text(fill.price),
            "traderefno": f"{fill.venue_id}{fill.trade_id}_{fill.fill_id}",
            "side": "B" if fill.side == "buy" else "S",
            "trdtime": _ms(fill.time_ns),
            "security": SYMBOLS.to_wire(fill.symbol),
            "type": "sale",
        }
        if order.spec.client_id is not None:
            row["clientorderid"] = order.spec.client_id
        return row

    def _updated_ns(self, order: Order) -> int:
        """When the order last changed: placed, filled or closed."""
        times = [order.created_ns, order.closed_ns or 0]
        times += [f.time_ns for f in self.desk.engine.fills(order.account, last=10**9) if f.venue_id == order.venue_id]
        return max(times)

    def _encode(self, message: dict[str, Any]) -> str:
        return self._encoder.encode(message).decode()


_TIFS: Final[dict[str, TimeInForce]] = {"GTC": "gtc", "GTT": "gtc", "IOC": "ioc", "FOK": "fok"}


def _echo(request: dict[str, Any], fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The request's fields (only ``fields`` when given) with its ``type`` last, as replies echo them."""
    echoed = {k: v for k, v in request.items() if k != "type" and (fields is None or k in fields)}
    return echoed | {"type": "querymultiorders" if request["type"] == "querymultiorder" else request["type"]}


def _decimal(request: dict[str, Any], name: str) -> Decimal | None:
    value = request.get(name)
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _Refused(INVALID_ORDER) from None
    if not number.is_finite() or number <= 0:
        raise _Refused(INVALID_ORDER)
    return number


def _expiry(request: dict[str, Any]) -> int:
    """``exptime`` in ns: POSIX seconds, or milliseconds (13 digits, as the venue's times are)."""
    try:
        value = int(str(request.get("exptime")))
    except ValueError:
        raise _Refused(INVALID_ORDER) from None
    return value * 1_000_000 if value >= 10**11 else value * 1_000_000_000


def _of_security(rows: list[dict[str, Any]], request: dict[str, Any]) -> list[dict[str, Any]]:
    security = request.get("security")
    return rows if security is None else [row for row in rows if row["security"] == security]


def _since(rows: list[dict[str, Any]], request: dict[str, Any], field: str) -> list[dict[str, Any]]:
    fromtime = request.get("fromtime")
    if fromtime is None:
        return rows
    try:
        start = int(str(fromtime))
    except ValueError:
        raise _Refused(INVALID_ORDER) from None
    return [row for row in rows if int(row[field]) >= start]


def _pages(kind: str, rows: list[dict[str, Any]], extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The replies of a query: up to ``PAGE`` rows each, numbered ``rec_no`` across all of them."""
    if not rows:
        return [{"result": OK, **extra, "type": kind, "total_rec": 0}]
    numbered = [row | {"rec_no": number} for number, row in enumerate(rows, 1)]
    return [
        {"result": OK, **extra, "data": numbered[start : start + PAGE], "type": kind, "total_rec": len(rows)}
        for start in range(0, len(rows), PAGE)
    ]


def _position_row(asset: str, total: Decimal) -> dict[str, Any]:
    return {"curpos": _text(total), "security": asset, "type": "position"}


def _text(value: Decimal) -> str:
    """Exact, without an exponent: the venue writes numbers as plain decimal strings."""
    return f"{value:f}"


def _ms(ns: int) -> str:
    return str(ns // 1_000_000)
