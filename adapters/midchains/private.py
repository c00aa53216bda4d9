"""Sans-I/O codec for Midchains' trading, on the same socket as its market data: the challenge and
login, ``addorder``, ``cancelorder`` and the queries out; their replies and the pushed ``order``,
``sale`` and ``position`` rows in, as the shared trading events.

Midchains' requests carry no id, so a reply is matched to its request by its type and what it
echoes: requests of one type wait in the order sent (the venue answers in that order), and an
``addorder`` reply goes to the oldest placement whose terms it echoes (client id, security, side,
quantities, prices). Each frame gets a local ``req_id`` all the same, which its ``Answer`` names.

No status is documented: an order's state is derived from its quantities (``liveqty`` open,
``execqty`` executed; dialect T4 for one done short). The codec keeps each order's last update by
its ``refno``, to fill in what a row leaves out (the client id where the venue does not echo it,
T3) and to report a row only when it says something new; fills are delivered once by
``traderefno`` for the codec's life. Whatever the dialect leaves open is a switch of
``adapters.midchains.dialect``; the token passed to each method is always None (no tokens here).

The password is read from the credentials by ``login`` alone and leaves only sealed with the
venue's key, in a frame whose repr omits its text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec

from adapters.midchains.dialect import DEFAULT_DIALECT, MidchainsDialect
from adapters.midchains.instruments import listed_instruments
from adapters.midchains.login import seal_password, served_key
from adapters.midchains.private_wire import (
    NO_POSITION,
    OK,
    ORDER_NOT_FOUND,
    AddOrder,
    AddOrderReply,
    Login,
    OrderPush,
    OrderRef,
    OrderRefReply,
    OrderRow,
    OrdersReply,
    PositionPush,
    PositionRow,
    PositionsReply,
    Query,
    QueryOrderReply,
    Request,
    Result,
    SalePush,
    SaleRow,
    TradesReply,
    ms_to_ns,
)
from adapters.midchains.symbols import SYMBOLS
from adapters.midchains.wire import Envelope
from schemas.events import Side
from schemas.trading import Balance, Fill, OrderKind, OrderRequest, OrderState, OrderUpdate
from sdk.contract import frame_error
from sdk.credentials import Credentials, Secret
from sdk.orders import FINAL, OrderTransitionError, apply, forget_final_orders, requested
from sdk.symbols import SymbolMap
from sdk.trading_contract import (
    Answer,
    Challenge,
    Decoded,
    LoggedIn,
    LookupAnswer,
    SignedFrame,
    SnapshotDone,
    TradingCodec,
)
from sdk.wiretext import WireValueError

ORDER_TYPES: Final[dict[OrderKind, tuple[str, str | None]]] = {
    "market": ("MKT", None),
    "limit": ("LMT", None),
    "stop_loss": ("MKT", "STOP"),
    "stop_loss_limit": ("LMT", "STOP"),
}
"""Shared order kinds and Midchains' ``ordertype`` and ``stoptype``; it has no take-profit kinds."""
_KINDS: Final[dict[tuple[str, str | None], OrderKind]] = {wire: kind for kind, wire in ORDER_TYPES.items()}
POST_ONLY_TYPE: Final = "POST"
"""FII's ``ordertype`` for a post-only limit order (dialect T6 ``ordertype``)."""

TIMES_IN_FORCE: Final = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK", "gtd": "GTT"}
_SIDES: Final[dict[str, Side]] = {"B": "buy", "S": "sell"}
_WIRE_SIDES: Final = {side: wire for wire, side in _SIDES.items()}

LOOKBACK_NS: Final = 60 * 1_000_000_000
"""How far before an order went in doubt a lookup searches (``fromtime``): the order was sent at
most a reply timeout before, and the venue's clock may differ from ours by some seconds."""
FILLS_REMEMBERED: Final = 4096
"""``traderefno``s kept to de-duplicate by: far more than a login's pushes and queries repeat."""


@dataclass(frozen=True, slots=True)
class _Placement:
    req_id: int
    order: OrderRequest
    sent: AddOrder


@dataclass(frozen=True, slots=True)
class _Cancel:
    req_id: int
    refno: str


@dataclass(frozen=True, slots=True)
class _Lookup:
    """An order in doubt being looked up; ``by_terms`` when the venue does not echo client ids."""

    order: OrderUpdate
    by_terms: bool = False


@dataclass(slots=True)
class _Query:
    """A multi-record query awaiting its frames: ``purpose`` is what its rows complete (the
    account's snapshot, or a lookup), ``rows`` what has arrived of its ``total_rec``."""

    purpose: Literal["snapshot", "rows"] | _Lookup
    rows: list[Any] = field(default_factory=list)


_Handler = Callable[[Any, bytes | str, int], list[Decoded]]


class MidchainsPrivateCodec(TradingCodec):
    """Encodes trading requests and decodes the trading side of Midchains' socket.

    ``decode_frame`` raises ``WireValueError`` for a frame it cannot read; the codec's state is
    then exactly as before the frame. Messages of a type it does not know are ignored.
    """

    def __init__(
        self, exchange: str = "midchains", symbols: SymbolMap = SYMBOLS, dialect: MidchainsDialect = DEFAULT_DIALECT
    ) -> None:
        self.exchange = exchange
        self.symbols = symbols
        self.dialect = dialect
        self._encoder = msgspec.json.Encoder()
        self._envelope = msgspec.json.Decoder(Envelope)
        wrapped = dialect.pushes == "wrapped"
        self._types: dict[str, tuple[msgspec.json.Decoder[Any], _Handler]] = {
            "challenge": (msgspec.json.Decoder(Result), self._challenge),
            "login": (msgspec.json.Decoder(Result), self._login),
            "logout": (msgspec.json.Decoder(Result), self._logout),
            "addorder": (msgspec.json.Decoder(AddOrderReply), self._addorder),
            "cancelorder": (msgspec.json.Decoder(OrderRefReply), self._cancelorder),
            "queryorder": (msgspec.json.Decoder(QueryOrderReply), self._queryorder),
            "querymultiorders": (msgspec.json.Decoder(OrdersReply), self._querymultiorders),
            "querytrade": (msgspec.json.Decoder(TradesReply), self._querytrade),
            "querypos": (msgspec.json.Decoder(PositionsReply), self._querypos),
            "querypendingpos": (msgspec.json.Decoder(PositionsReply), self._querypendingpos),
            "order": (msgspec.json.Decoder(OrderPush if wrapped else OrderRow), self._order_push),
            "sale": (msgspec.json.Decoder(SalePush if wrapped else SaleRow), self._sale_push),
            "position": (msgspec.json.Decoder(PositionPush if wrapped else PositionRow), self._position_push),
        }
        self._last_req_id = 0
        self._placing: deque[_Placement] = deque()
        self._cancelling: deque[_Cancel] = deque()
        self._order_lookups: deque[_Lookup] = deque()
        self._queries: dict[str, deque[_Query]] = {
            "querymultiorders": deque(),
            "querytrade": deque(),
            "querypos": deque(),
            "querypendingpos": deque(),
        }
        self._orders: dict[str, OrderUpdate] = {}
        self._fills: dict[str, None] = {}
        """``traderefno``s delivered, oldest first (a dict keeps insertion order)."""
        self._trades_from_ns: int | None = None
        """Since when fills may have been missed: the first login, then the latest fill's time."""
        self._logins = 0
        """Logins accepted: after the first, fills made while away are asked for."""

    def __repr__(self) -> str:
        return f"MidchainsPrivateCodec(exchange={self.exchange!r}, orders={len(self._orders)})"

    # -- session ----------------------------------------------------------------------------

    def open_session(self) -> list[SignedFrame]:
        """``{"type":"challenge"}``: the venue answers with the key to seal the password with."""
        return [self._frame("challenge", Request("challenge"))]

    def login(self, credentials: Credentials, challenge: Challenge) -> SignedFrame:
        """``{"type":"login","userid":<key>,"pass":<the secret sealed with the challenge's key>}``."""
        sealed = seal_password(challenge.key, credentials.secret.reveal())
        return self._frame("login", Login("login", credentials.key, sealed))

    def logout(self) -> SignedFrame:
        """``{"type":"logout"}``: the venue answers, then closes the socket."""
        return self._frame("logout", Request("logout"))

    def close_session(self) -> list[SignedFrame]:
        return [self.logout()]

    def subscribe_private(self, token: Secret | None) -> list[SignedFrame]:
        """What rebuilds the account after a login: the fills since the last one seen (after a
        reconnect), the orders (``querymultiorders``) and the positions (``querypos``, which also
        keeps position updates coming). They are asked for whether or not the venue pushes open
        orders and positions at login (T2): only the queries' ends say the snapshot is complete."""
        frames = []
        if self._logins > 1 and self._trades_from_ns is not None:
            since = str(max(0, self._trades_from_ns - LOOKBACK_NS) // 1_000_000)
            frames.append(self._query("querytrade", Query("querytrade", fromtime=since), "rows"))
        frames.append(self._query("querymultiorders", Query("querymultiorders"), "snapshot"))
        frames.append(self._query("querypos", Query("querypos"), "snapshot"))
        return frames

    def query_pending_positions(self) -> SignedFrame:
        """``querypendingpos``: each asset's total and what open orders hold of it, as ``Balance``
        events with ``available``; unlike ``querypos`` it starts no updates."""
        return self._query("querypendingpos", Request("querypendingpos"), "rows")

    # -- orders -----------------------------------------------------------------------------

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        """The ``addorder`` frame for ``order``. A market order by ``quote_qty`` sends ``amount``
        (the venue refuses ``qty`` on a market buy, with its own text); a market order never
        rests, so its ``gtc`` is sent as ``IOC``. ``ValueError`` for what Midchains cannot take:
        take-profit kinds, reduce-only and validate-only orders, and post-only ones where the
        dialect (T6) says it has none."""
        if order.order_type not in ORDER_TYPES:
            raise ValueError(f"Midchains has no {order.order_type} orders")
        if order.reduce_only or order.validate_only:
            raise ValueError(f"Midchains has no {'reduce' if order.reduce_only else 'validate'}-only orders")
        ordertype, stoptype = ORDER_TYPES[order.order_type]
        tif = TIMES_IN_FORCE[order.time_in_force]
        if ordertype == "MKT" and tif == "GTC":
            tif = "IOC"
        alo = False
        if order.post_only:
            if self.dialect.post_only == "refused":
                raise ValueError("Midchains takes no post-only orders (dialect T6)")
            if self.dialect.post_only == "alo":
                alo = True
            elif stoptype is None:
                ordertype = POST_ONLY_TYPE
            else:
                raise ValueError("a post-only order is ordertype POST, which takes no stop (dialect T6)")
        sent = AddOrder(
            type="addorder",
            security=self.symbols.to_wire(order.symbol),
            side=_WIRE_SIDES[order.side],
            ordertype=ordertype,
            tif=tif,
            qty=_plain(order.qty),
            price=_plain(order.price),
            amount=_plain(order.quote_qty),
            stoptype=stoptype,
            stopprice=_plain(order.stop_price),
            exptime=str(order.expire_time // 1_000_000_000) if order.expire_time is not None else None,
            alo=alo,
            clientorderid=order.client_order_id if self.dialect.client_id_echo else None,
        )
        frame = self._frame("addorder", sent)
        self._placing.append(_Placement(frame.req_id, order, sent))
        return frame

    def amend_order(
        self,
        token: Secret | None,
        *,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> SignedFrame:
        """Midchains cannot change an order on its socket (only FIX has cancel/replace)."""
        raise NotImplementedError("Midchains has no amend on its socket: cancel the order and place a new one")

    def cancel_order(
        self, token: Secret | None, *, venue_order_ids: Sequence[str] = (), client_order_ids: Sequence[str] = ()
    ) -> SignedFrame:
        """``cancelorder`` for exactly one order, by its ``refno`` and, where the account has seen
        the order, its security: the venue cancels one order a request and knows no client ids.
        A ``refno`` the account has not seen is sent without a security, for the venue to answer
        (dialect T8; where the venue needs one, ``ValueError``). ``ValueError`` for client ids,
        and for several orders or none."""
        if client_order_ids:
            raise ValueError("Midchains cancels by its own refno only: it cannot find an order by client id")
        if len(venue_order_ids) != 1:
            raise ValueError(f"Midchains cancels one order a request, not {len(venue_order_ids)}")
        refno = venue_order_ids[0]
        known = self._orders.get(refno)
        if known is None and not self.dialect.cancel_by_refno:
            raise ValueError(f"order {refno} is not known here: cancelorder needs its security (dialect T8)")
        security = self.symbols.to_wire(known.symbol) if known is not None else msgspec.UNSET
        frame = self._frame("cancelorder", OrderRef("cancelorder", security, refno))
        self._cancelling.append(_Cancel(frame.req_id, refno))
        return frame

    def cancel_all(self, token: Secret | None) -> SignedFrame:
        raise NotImplementedError("Midchains has no cancel-all: cancel each open order by its refno")

    def cancel_all_orders_after(self, timeout_s: int, token: Secret | None) -> SignedFrame:
        """Midchains has no dead man's switch on its socket: ``NotImplementedError`` has the account
        emulate one (dialect T7 ``emulated``); ``ValueError`` where none is to be emulated."""
        absent = "Midchains has no dead man's switch on its socket"
        if self.dialect.dead_man == "none":
            raise ValueError(f"{absent}, and none is emulated (dialect T7)")
        raise NotImplementedError(f"{absent}; the account emulates it (dialect T7)")

    def query_order(self, order: OrderUpdate, token: Secret | None) -> SignedFrame:
        """Look up an order in doubt: ``queryorder`` by its ``refno`` where known, else the orders
        since shortly before it went in doubt (``querymultiorders``), matched by client id where
        the venue echoes it (T3) and otherwise by terms, which the ``LookupAnswer`` flags."""
        if order.client_order_id is None:
            raise ValueError("an order is looked up for the client id it is known by")
        security = self.symbols.to_wire(order.symbol)
        if order.venue_order_id is not None:
            frame = self._frame("queryorder", OrderRef("queryorder", security, order.venue_order_id))
            self._order_lookups.append(_Lookup(order))
            return frame
        since = str(max(0, order.ts_received - LOOKBACK_NS) // 1_000_000)
        lookup = _Lookup(order, by_terms=not self.dialect.client_id_echo)
        return self._query("querymultiorders", Query("querymultiorders", security, since), lookup)

    def _query(
        self, kind: str, request: Query | Request, purpose: Literal["snapshot", "rows"] | _Lookup
    ) -> SignedFrame:
        frame = self._frame(kind, request)
        self._queries[kind].append(_Query(purpose))
        return frame

    def _frame(self, method: str, request: object) -> SignedFrame:
        self._last_req_id += 1
        return SignedFrame(method, self._last_req_id, self._encoder.encode(request).decode())

    def forget_requests(self) -> None:
        self._placing.clear()
        self._cancelling.clear()
        self._order_lookups.clear()
        for waiting in self._queries.values():
            waiting.clear()

    def token_rejected(self, error: str) -> bool:
        return False  # no tokens: the login is the socket's

    def rate_limited(self, error: str) -> bool:
        return self.dialect.rate_limit_result in error

    # -- frames -----------------------------------------------------------------------------

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        """What one received frame says; a message of a type not known here says nothing."""
        try:
            kind = self._envelope.decode(frame).type
        except msgspec.MsgspecError as error:
            raise WireValueError(f"not a Midchains message: {error}") from None
        known = self._types.get(kind)
        if known is None:
            return []
        decoder, handle = known
        try:
            message = decoder.decode(frame)
        except msgspec.MsgspecError as error:
            raise WireValueError(f"unreadable {kind[:50]!r} message: {error}") from None
        return handle(message, frame, received_ns)

    def _refused(self, what: str, result: str, frame: bytes | str, received_ns: int) -> Decoded:
        return frame_error(self.exchange, f"{what} refused: {result}", frame, received_ns)

    def _challenge(self, reply: Result, frame: bytes | str, received_ns: int) -> list[Decoded]:
        if reply.result != OK or reply.key is None:
            return [self._refused("challenge", reply.result, frame, received_ns)]
        served_key(reply.key)  # a key that cannot seal fails here, as an unreadable frame
        return [Challenge(reply.key)]

    def _login(self, reply: Result, frame: bytes | str, received_ns: int) -> list[Decoded]:
        if reply.result != OK:
            return [LoggedIn(False, reply.result)]
        self._logins += 1
        if self._trades_from_ns is None:
            self._trades_from_ns = received_ns
        return [LoggedIn(True), *listed_instruments(self.exchange, received_ns)]

    def _logout(self, reply: Result, frame: bytes | str, received_ns: int) -> list[Decoded]:
        return [] if reply.result == OK else [self._refused("logout", reply.result, frame, received_ns)]

    # -- placements and cancels -------------------------------------------------------------

    def _addorder(self, reply: AddOrderReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        placement = next((p for p in self._placing if _echoes(reply, p)), None)
        if placement is None:
            return [frame_error(self.exchange, "addorder reply echoing no order sent", frame, received_ns)]
        self._placing.remove(placement)
        if reply.result != OK or reply.refno is None:
            reason = reply.result if reply.result != OK else "accepted without a refno"
            rejected = requested(self.exchange, placement.order, "rejected", reason=reason, received_ns=received_ns)
            return [rejected, Answer(placement.req_id, "addorder", False, reason, (rejected,))]
        events: list[Decoded] = []
        known = self._orders.get(reply.refno)
        if known is None:  # the usual case: the reply comes before any row of the order
            known = requested(
                self.exchange, placement.order, "pending_new", venue_order_id=reply.refno, received_ns=received_ns
            )
            self._orders[reply.refno] = known
            events.append(known)
        elif known.client_order_id is None and placement.order.client_order_id is not None:
            known = msgspec.structs.replace(known, client_order_id=placement.order.client_order_id)
            self._orders[reply.refno] = known
            events.append(known)
        return [*events, Answer(placement.req_id, "addorder", True, None, (known,))]

    def _cancelorder(self, reply: OrderRefReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        cancel = next((c for c in self._cancelling if reply.refno in (None, c.refno)), None)
        events: list[Decoded] = []
        ok = reply.result == OK
        if not ok:
            events.append(self._refused(f"cancelorder {reply.refno}", reply.result, frame, received_ns))
        if cancel is not None:
            self._cancelling.remove(cancel)
            events.append(Answer(cancel.req_id, "cancelorder", ok, None if ok else reply.result))
        return events

    # -- queries ----------------------------------------------------------------------------

    def _queryorder(self, reply: QueryOrderReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        lookup = next((lk for lk in self._order_lookups if reply.refno in (None, lk.order.venue_order_id)), None)
        if reply.result not in (OK, ORDER_NOT_FOUND):
            if lookup is None or lookup.order.client_order_id is None:
                return [self._refused(f"queryorder {reply.refno}", reply.result, frame, received_ns)]
            self._order_lookups.remove(lookup)  # refused: proves nothing, the account asks again
            return [LookupAnswer(lookup.order.client_order_id, None, failed=reply.result)]
        if lookup is not None:
            self._order_lookups.remove(lookup)
        events: list[Decoded] = []
        found = None
        if reply.data is not None and reply.result == OK:
            found = self._track_row(
                reply.data, frame, received_ns, events, lookup.order.client_order_id if lookup else None
            )
        if lookup is not None:
            assert lookup.order.client_order_id is not None
            events.append(LookupAnswer(lookup.order.client_order_id, found))
        return events

    def _querymultiorders(self, reply: OrdersReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        query, done, events = self._query_frame("querymultiorders", reply, frame, received_ns)
        if query is None:  # asked on a connection since gone: news about known orders still counts
            for row in reply.data:
                self._track_row(row, frame, received_ns, events, history=True)
            return events
        if not done:
            return events
        refused = reply.result if reply.result != OK else None
        if isinstance(query.purpose, _Lookup):
            if refused is not None and query.purpose.order.client_order_id is not None:
                return [LookupAnswer(query.purpose.order.client_order_id, None, failed=refused)]
            return [*events, self._looked_up(query.purpose, query.rows, frame, received_ns)]
        if refused is not None:
            return [SnapshotDone("orders", failed=refused)]
        rows: list[OrderRow] = query.rows
        open_ids: list[str] = []
        for row in rows:
            update = self._track_row(row, frame, received_ns, events, history=True)
            if update is not None and update.state not in FINAL:
                open_ids.append(row.refno)
        return [*events, SnapshotDone("orders", tuple(open_ids))]

    def _querytrade(self, reply: TradesReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        _, _, events = self._query_frame("querytrade", reply, frame, received_ns)
        return events + self._fills_of(reply.data if reply.result == OK else [], received_ns)

    def _querypos(self, reply: PositionsReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        query, done, events = self._query_frame("querypos", reply, frame, received_ns)
        events.extend(self._balances(reply.data if reply.result == OK else [], received_ns))
        if query is not None and done and query.purpose == "snapshot":
            refused = None if reply.result in (OK, *NO_POSITION) else reply.result
            return [event for event in events if refused is None] + [SnapshotDone("balances", failed=refused)]
        return events

    def _querypendingpos(self, reply: PositionsReply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        _, _, events = self._query_frame("querypendingpos", reply, frame, received_ns)
        return events + self._balances(reply.data if reply.result == OK else [], received_ns)

    def _query_frame(
        self, kind: str, reply: OrdersReply | TradesReply | PositionsReply, frame: bytes | str, received_ns: int
    ) -> tuple[_Query | None, bool, list[Decoded]]:
        """The query this frame answers (the oldest of its type), whether its answer is now
        complete (every one of ``total_rec`` rows arrived, or refused), and the refusal's event."""
        waiting = self._queries[kind]
        events: list[Decoded] = []
        if reply.result != OK and reply.result not in NO_POSITION:
            events.append(self._refused(kind, reply.result, frame, received_ns))
        if not waiting:
            return None, False, events
        query = waiting[0]
        query.rows.extend(reply.data)
        done = reply.result != OK or len(query.rows) >= reply.total_rec
        if done:
            waiting.popleft()
        return query, done, events

    def _looked_up(self, lookup: _Lookup, rows: list[OrderRow], frame: bytes | str, received_ns: int) -> LookupAnswer:
        """The row of the order looked up: the one echoing its client id, or (``by_terms``) the
        oldest whose security, side, quantities and prices agree among those no order of the
        account's claims: not known here, or known only from rows without a client id (as the
        order in doubt is once the reconnect's snapshot has shown it, before this lookup)."""
        order = lookup.order
        cid = order.client_order_id
        assert cid is not None
        if lookup.by_terms:
            security = self.symbols.to_wire(order.symbol)
            matches = [row for row in rows if self._unclaimed(row.refno) and _same_terms(row, security, order)]
            matches.sort(key=lambda row: ms_to_ns(row.updtime) if row.updtime is not None else 0)
        else:
            matches = [row for row in rows if row.clientorderid == cid]
        found = self._track_row(matches[0], frame, received_ns, [], cid) if matches else None
        return LookupAnswer(cid, found, heuristic=lookup.by_terms)

    def _unclaimed(self, refno: str) -> bool:
        """Whether no client id is attached to order ``refno`` here (it may be one in doubt)."""
        known = self._orders.get(refno)
        return known is None or known.client_order_id is None

    # -- pushes -----------------------------------------------------------------------------

    def _order_push(self, push: OrderPush | OrderRow, frame: bytes | str, received_ns: int) -> list[Decoded]:
        events: list[Decoded] = []
        for row in push.data if isinstance(push, OrderPush) else [push]:
            self._track_row(row, frame, received_ns, events)
        return events

    def _sale_push(self, push: SalePush | SaleRow, frame: bytes | str, received_ns: int) -> list[Decoded]:
        return list(self._fills_of(push.data if isinstance(push, SalePush) else [push], received_ns))

    def _position_push(self, push: PositionPush | PositionRow, frame: bytes | str, received_ns: int) -> list[Decoded]:
        return list(self._balances(push.data if isinstance(push, PositionPush) else [push], received_ns))

    # -- rows -------------------------------------------------------------------------------

    def _track_row(
        self,
        row: OrderRow,
        frame: bytes | str,
        received_ns: int,
        events: list[Decoded],
        cid: str | None = None,
        *,
        history: bool = False,
    ) -> OrderUpdate | None:
        """The order after ``row``, kept and (when it says something new) appended to ``events``.
        ``cid`` names the order where a lookup matched it; ``history`` passes over an order that
        finished before this account saw it (a listing of the day's orders). A row the order
        cannot take (``filled`` back to ``new``) is an ``ErrorEvent``, and None is returned."""
        before = self._orders.get(row.refno)
        update = self._row_update(row, before, cid, received_ns)
        if history and before is None and update.state in FINAL:
            return update
        try:
            after = apply(before, update)
        except OrderTransitionError as impossible:
            events.append(frame_error(self.exchange, str(impossible), frame, received_ns))
            return None
        self._orders[row.refno] = after
        forget_final_orders(self._orders)
        if before is None or _essence(before) != _essence(after):
            events.append(after)
        return after

    def _row_update(self, row: OrderRow, before: OrderUpdate | None, cid: str | None, received_ns: int) -> OrderUpdate:
        """Every field from the row where it has one, else from the order's last update."""
        if row.ordertype == POST_ONLY_TYPE:
            kind: OrderKind | None = "limit"
        elif row.ordertype is not None:
            kind = _KINDS.get((row.ordertype, row.stoptype))
        else:
            kind = before.order_type if before else None
        qty = row.qty if row.qty else before.qty if before else None  # a market buy by amount has none
        quote_qty = row.amount if row.amount else before.quote_qty if before else None
        avg_price = row.execamount / row.execqty if row.execqty and row.execamount is not None else None
        return OrderUpdate(
            exchange=self.exchange,
            symbol=self.symbols.from_wire(row.security),
            side=_SIDES[row.side],
            state=self._state(row, qty, quote_qty),
            venue_order_id=row.refno,
            client_order_id=row.clientorderid or cid or (before.client_order_id if before else None),
            order_type=kind,
            qty=qty,
            quote_qty=quote_qty,
            filled_qty=row.execqty,
            avg_price=avg_price if avg_price is not None else before.avg_price if before else None,
            price=row.price if row.price else before.price if before else None,
            stop_price=row.stopprice if row.stopprice else before.stop_price if before else None,
            ts_exchange=ms_to_ns(row.updtime) if row.updtime is not None else None,
            ts_received=received_ns,
        )

    def _state(self, row: OrderRow, qty: Decimal | None, quote_qty: Decimal | None) -> OrderState:
        """No status is sent: open while ``liveqty`` is above zero, else filled if everything
        ordered was executed (by ``amount`` for a market buy by amount, where the venue says), or
        done short: ``canceled`` or ``expired`` by dialect T4."""
        if row.liveqty:
            return "partially_filled" if row.execqty else "new"
        if qty is not None:
            complete = row.execqty >= qty
        elif quote_qty is not None and row.execamount is not None:
            complete = row.execamount >= quote_qty
        else:
            complete = bool(row.execqty)
        return "filled" if complete else self.dialect.finished_short

    def _fills_of(self, rows: Sequence[SaleRow], received_ns: int) -> list[Decoded]:
        fills: list[Decoded] = []
        for row in rows:
            if row.traderefno in self._fills:
                continue
            self._fills[row.traderefno] = None
            known = self._orders.get(row.refno)
            ts = ms_to_ns(row.trdtime) if row.trdtime is not None else None
            if ts is not None and (self._trades_from_ns is None or ts > self._trades_from_ns):
                self._trades_from_ns = ts
            fills.append(
                Fill(
                    exchange=self.exchange,
                    symbol=self.symbols.from_wire(row.security),
                    fill_id=row.traderefno,
                    venue_order_id=row.refno,
                    client_order_id=row.clientorderid or (known.client_order_id if known else None),
                    side=_SIDES[row.side],
                    qty=row.execqty,
                    price=row.execprice,
                    order_type=known.order_type if known else None,
                    ts_exchange=ts,
                    ts_received=received_ns,
                )
            )
        while len(self._fills) > FILLS_REMEMBERED:
            del self._fills[next(iter(self._fills))]
        return fills

    def _balances(self, rows: Sequence[PositionRow], received_ns: int) -> list[Decoded]:
        return [
            Balance(
                exchange=self.exchange,
                asset=row.security,
                total=row.curpos,
                available=row.curpos - row.managedpos if row.managedpos is not None else None,
                ts_received=received_ns,
            )
            for row in rows
        ]


def _plain(value: Decimal | None) -> str | None:
    """A number as Midchains prints them: plain decimal text, never an exponent."""
    return None if value is None else format(value, "f")


def _echoes(reply: AddOrderReply, placement: _Placement) -> bool:
    """Whether every term ``reply`` echoes is the placement's (numbers compared as numbers)."""
    sent, order = placement.sent, placement.order
    pairs: tuple[tuple[object, object], ...] = (
        (reply.clientorderid, sent.clientorderid),
        (reply.security, sent.security),
        (reply.side, sent.side),
        (reply.ordertype, sent.ordertype),
        (reply.tif, sent.tif),
        (reply.qty, order.qty),
        (reply.price, order.price),
        (reply.amount, order.quote_qty),
        (reply.stopprice, order.stop_price),
    )
    return all(echoed is None or echoed == asked for echoed, asked in pairs)


def _same_terms(row: OrderRow, security: str, order: OrderUpdate) -> bool:
    terms: tuple[tuple[object, object], ...] = (
        (row.security, security),
        (_SIDES[row.side], order.side),
        (row.qty or None, order.qty),
        (row.price or None, order.price),
        (row.amount or None, order.quote_qty),
    )
    return all(asked is None or seen == asked for seen, asked in terms)


def _essence(update: OrderUpdate) -> tuple[object, ...]:
    """What a row can tell about an order; a row that changes none of it is not news."""
    return (
        update.state,
        update.filled_qty,
        update.avg_price,
        update.qty,
        update.quote_qty,
        update.price,
        update.stop_price,
        update.client_order_id,
        update.order_type,
    )
