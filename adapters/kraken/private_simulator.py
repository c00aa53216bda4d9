"""Kraken v2's private side of the local simulator: trading methods, ``executions`` and
``balances``, as ``wss://ws-auth.kraken.com/v2`` speaks them.

``KrakenDesk`` is the simulator's one trading venue (accounts, the matching engine, issued
tokens, trading fault switches); it outlives connections, so orders keep filling while a client
is away. ``KrakenPrivateSession`` is one connection's private protocol over the desk: every
request is checked against the token in its ``params``, and the engine's records become the
frames of the sessions subscribed to that account. Sans-I/O, like every simulator session.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import msgspec

from adapters.kraken.channels import SYMBOLS
from adapters.kraken.private_wire import AddOrderParams, AmendParams, BatchAddParams, OrderParams
from adapters.kraken.rest_simulator import KrakenRest
from adapters.kraken_common.instruments import COST_MIN
from sdk.simulation.desk import TradingDesk
from sdk.simulation.market import SyntheticMarket
from sdk.simulation.matching import (
    BalanceChanged,
    Fill,
    MatchingEngine,
    Order,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    OrderFilled,
    OrderRejected,
    OrderSpec,
    Record,
    check_grid,
    record_account,
)
from sdk.simulation.session import Outgoing, Reply
from sdk.wiretext import ns_to_rfc3339

PRIVATE_CHANNELS: Final = frozenset({"executions", "balances"})
TRADING_METHODS: Final = frozenset(
    {"add_order", "amend_order", "cancel_order", "cancel_all", "cancel_all_orders_after", "batch_add", "batch_cancel"}
)
RATE_LIMITED: Final = frozenset({"add_order", "amend_order", "cancel_order", "batch_add", "batch_cancel"})
"""Methods that spend Kraken's per-pair trading counter."""
INVALID_TOKEN: Final = "EAPI:Invalid token"
RATE_LIMIT: Final = "EOrder:Rate limit exceeded"
MAX_RATE_COUNT: Final = 180

_ERRORS: Final = {
    OrderRejected.INSUFFICIENT_FUNDS: "EOrder:Insufficient funds",
    OrderRejected.POST_ONLY_WOULD_TAKE: "EOrder:Post only order",
    OrderRejected.UNKNOWN_SYMBOL: "EQuery:Unknown asset pair",
    OrderRejected.INVALID_ORDER: "EGeneral:Invalid arguments",
    OrderRejected.UNKNOWN_ORDER: "EOrder:Unknown order",
    OrderRejected.DUPLICATE_CLIENT_ID: "EOrder:Duplicate order",
    OrderRejected.PRICE_OFF_GRID: "EGeneral:Invalid arguments:price",
    OrderRejected.QTY_OFF_GRID: "EGeneral:Invalid arguments:volume",
    OrderRejected.QTY_BELOW_MINIMUM: "EGeneral:Invalid arguments:volume minimum not met",
    OrderRejected.COST_BELOW_MINIMUM: "EOrder:Cost minimum not met",
}
"""The venue's words for each refusal. ``volume minimum not met`` is captured from Kraken; the
price, volume and cost texts are the simulator's own, in Kraken's style."""
_WARNINGS: Final = [
    "cancel_reason is deprecated, use reason",
    "stop_price is deprecated, use triggers.price",
    "trigger is deprecated use triggers.reference",
    "triggered_price is deprecated use triggers.last_price",
]
_ID_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class Envelope(msgspec.Struct, gc=False):
    """Any request, its ``params`` left raw until the method says what they hold."""

    method: str
    params: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))
    req_id: int | None = None


class _Common(msgspec.Struct, gc=False):
    token: str | None = None
    channel: str | None = None
    snapshot: bool = True
    snap_orders: bool = True
    snap_trades: bool = False


class _Cancel(msgspec.Struct, gc=False):
    order_id: list[str] | None = None
    orders: list[str] | None = None
    cl_ord_id: list[str] | None = None


class _Timeout(msgspec.Struct, gc=False):
    timeout: int


def is_private(envelope: Envelope) -> bool:
    """Whether the request belongs to the private side (a trading method or a private channel)."""
    if envelope.method in TRADING_METHODS:
        return True
    if envelope.method in ("subscribe", "unsubscribe"):
        try:
            return msgspec.json.decode(envelope.params, type=_Common).channel in PRIVATE_CHANNELS
        except msgspec.DecodeError:
            return False
    return False


class KrakenIds:
    """Kraken-looking identifiers (``OXXXXX-XXXXX-XXXXXX``), reproducible from a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def new(self, first: str) -> str:
        letters = "".join(self._rng.choice(_ID_LETTERS) for _ in range(16))
        return f"{first}{letters[:5]}-{letters[5:10]}-{letters[10:]}"


class KrakenDesk(TradingDesk["KrakenPrivateSession"]):
    """The simulator's trading venue, shared by every connection; orders are counted as received
    (``add_order`` and ``batch_add`` rows) per ``cl_ord_id``."""

    def __init__(
        self, market: SyntheticMarket, accounts: Mapping[str, str], balances: Mapping[str, Decimal], seed: int
    ) -> None:
        self.ids = KrakenIds(seed)
        engine = MatchingEngine(market, new_order_id=lambda: self.ids.new("O"), new_fill_id=lambda: self.ids.new("T"))
        super().__init__(engine, rate_limit_error=RATE_LIMIT)
        for key in accounts:
            self.engine.open_account(key, dict(balances))
        self.rest = KrakenRest(accounts, self.engine)
        self.replies_first = False
        """Reply to an order before its ``executions`` rows (Kraken does either)."""


class KrakenPrivateSession:
    """One connection's private side: its subscriptions, sequences and frames waiting to be sent."""

    def __init__(self, desk: KrakenDesk) -> None:
        self.desk = desk
        self._encoder = msgspec.json.Encoder()
        self._subscribed: dict[str, str] = {}
        """Channel -> the account (API key) it follows."""
        self._sequence: dict[str, int] = {}
        self._waiting: list[str] = []
        desk.sessions.add(self)

    def end_subscriptions(self) -> None:
        """The tokens they were made with are no longer valid: private pushes stop until the
        client subscribes again with a fresh one."""
        self._subscribed.clear()

    def drain(self) -> list[str]:
        """The frames of records delivered since the last drain."""
        frames, self._waiting = self._waiting, []
        return frames

    def deliver(self, records: list[Record]) -> None:
        for record in records:
            account = record_account(record)
            if isinstance(record, BalanceChanged):
                if self._subscribed.get("balances") == account:
                    self._waiting.append(self._push("balances", "update", [self._ledger_entry(record)]))
            elif self._subscribed.get("executions") == account:
                self._waiting += [self._push("executions", "update", [row]) for row in self._rows(record)]

    def refuse(self, envelope: Envelope, reason: str, now_ns: int) -> str:
        return self._error(envelope, reason, now_ns)

    def answer(self, envelope: Envelope, now_ns: int) -> Reply:
        reply = Reply()
        try:
            common = msgspec.json.decode(envelope.params, type=_Common)
        except msgspec.DecodeError:
            reply.send(self._error(envelope, "EGeneral:Invalid arguments", now_ns))
            return reply
        account = self.desk.rest.account_of(common.token)
        if account is None:
            reply.send(self._error(envelope, INVALID_TOKEN, now_ns))
            return reply
        rejection = self.desk.next_rejection() if envelope.method in RATE_LIMITED else None
        if rejection is not None:
            self._count_orders(envelope)
            reply.send(self._error(envelope, rejection, now_ns))
            return reply
        try:
            if envelope.method in ("subscribe", "unsubscribe"):
                self._subscription(envelope, common, account, reply, now_ns)
            elif envelope.method in ("add_order", "batch_add"):
                return self._placing(envelope, account, now_ns)
            else:
                self._managing(envelope, account, reply, now_ns)
        except OrderRejected as rejected:
            reply.send(self._error(envelope, _ERRORS[rejected.reason], now_ns))
        except (msgspec.DecodeError, msgspec.ValidationError) as invalid:
            reply.send(self._error(envelope, f"EGeneral:Invalid arguments:{invalid}", now_ns))
        reply.outgoing += [Outgoing(text, ack=False) for text in self.drain()]
        return reply

    # -- subscriptions ----------------------------------------------------------------------

    def _subscription(self, envelope: Envelope, common: _Common, account: str, reply: Reply, now_ns: int) -> None:
        channel = common.channel or ""
        if envelope.method == "unsubscribe":
            if self._subscribed.pop(channel, None) is None:
                reply.send(self._error(envelope, "Subscription Not Found", now_ns))
            else:
                reply.send(self._answer(envelope, {"channel": channel}, now_ns))
            return
        if channel in self._subscribed:
            reply.send(self._error(envelope, "Already subscribed", now_ns))
            return
        self._subscribed[channel] = account
        self._sequence[channel] = 0
        engine = self.desk.engine
        if channel == "balances":
            reply.ack(self._answer(envelope, {"channel": channel, "snapshot": common.snapshot}, now_ns))
            if common.snapshot:
                rows = [_balance_row(asset, h.total) for asset, h in sorted(engine.holdings(account).items())]
                reply.send(self._push("balances", "snapshot", rows))
            return
        result = {
            "channel": channel,
            "maxratecount": MAX_RATE_COUNT,
            "snap_orders": common.snap_orders,
            "snap_trades": common.snap_trades,
            "snapshot": True,
            "warnings": _WARNINGS,
        }
        reply.ack(self._answer(envelope, result, now_ns))
        # trades first: a fresh client then counts each order's fills up to the open order's cum_qty
        rows = []
        if common.snap_trades:
            rows += [_trade_row(f, engine.order(account, venue_id=f.venue_id)) for f in engine.fills(account)]
        if common.snap_orders:
            rows += [_order_row(order, "new", order.status) for order in engine.open_orders(account)]
        reply.send(self._push("executions", "snapshot", rows))

    # -- orders -----------------------------------------------------------------------------

    def _placing(self, envelope: Envelope, account: str, now_ns: int) -> Reply:
        reply = Reply()
        batch = envelope.method == "batch_add"
        raw = envelope.params
        try:
            if batch:
                params = msgspec.json.decode(raw, type=BatchAddParams)
                wanted, validate = [(o, params.symbol) for o in params.orders], params.validate
            else:
                single = msgspec.json.decode(raw, type=AddOrderParams)
                wanted, validate = [(single, single.symbol or "")], single.validate
        except (msgspec.DecodeError, msgspec.ValidationError) as invalid:
            self._count_orders(envelope)
            reply.send(self._error(envelope, f"EGeneral:Invalid arguments:{invalid}", now_ns))
            return reply
        for row, _ in wanted:
            self.desk.received(row.cl_ord_id)
        engine = self.desk.engine
        try:
            specs = [_spec(order, symbol) for order, symbol in wanted]
            for spec in specs:
                if spec.symbol in engine.market.states:
                    check_grid(spec, engine.market.state(spec.symbol).instrument, COST_MIN)
            engine.check(account, specs)
        except OrderRejected as rejected:
            reply.send(self._error(envelope, _ERRORS[rejected.reason], now_ns))
            return reply
        results: list[dict[str, Any]] = []
        for spec in specs:
            order_id = ""
            if not validate:
                order, records = engine.place(account, spec, now_ns)
                self.desk.publish(records)
                order_id = order.venue_id
            results.append({"order_id": order_id} | ({"cl_ord_id": spec.client_id} if spec.client_id else {}))
        if not validate and self.desk.drops_reply():
            return Reply(hang_up=True)
        answer = Outgoing(self._answer(envelope, results if batch else results[0], now_ns), ack=False)
        executions = [Outgoing(text, ack=False) for text in self.drain()]
        reply.outgoing += [answer, *executions] if self.desk.replies_first else [*executions, answer]
        return reply

    def _managing(self, envelope: Envelope, account: str, reply: Reply, now_ns: int) -> None:
        engine, raw, method = self.desk.engine, envelope.params, envelope.method
        if method == "amend_order":
            amend = msgspec.json.decode(raw, type=AmendParams)
            order = engine.order(account, venue_id=amend.order_id, client_id=amend.cl_ord_id)
            self.desk.publish(engine.amend(order, now_ns, qty=amend.order_qty, price=amend.limit_price))
            named = {"order_id": amend.order_id} if amend.order_id else {"cl_ord_id": amend.cl_ord_id}
            reply.send(self._answer(envelope, {"amend_id": self.desk.ids.new("T"), **named}, now_ns))
        elif method == "cancel_order":
            cancel = msgspec.json.decode(raw, type=_Cancel)
            for key, ids in (("order_id", cancel.order_id or []), ("cl_ord_id", cancel.cl_ord_id or [])):
                for one in ids:
                    by_venue = key == "order_id"
                    try:
                        order = engine.order(
                            account, venue_id=one if by_venue else None, client_id=None if by_venue else one
                        )
                        self.desk.publish(engine.cancel(order, now_ns))
                    except OrderRejected as rejected:
                        reply.send(self._error(envelope, _ERRORS[rejected.reason], now_ns))
                        continue
                    reply.send(self._answer(envelope, {key: one}, now_ns))
        elif method == "batch_cancel":
            cancel = msgspec.json.decode(raw, type=_Cancel)
            count = 0
            for venue_id in cancel.orders or []:
                count += self._cancel_quietly(account, now_ns, venue_id, None)
            for client_id in cancel.cl_ord_id or []:
                count += self._cancel_quietly(account, now_ns, None, client_id)
            reply.send(self._encode(self._stamped(envelope, {"orders_cancelled": count, "success": True}, now_ns)))
        elif method == "cancel_all":
            records = engine.cancel_all(account, now_ns)
            self.desk.publish(records)
            reply.send(self._answer(envelope, {"count": sum(isinstance(r, OrderClosed) for r in records)}, now_ns))
        else:
            timeout = msgspec.json.decode(raw, type=_Timeout).timeout
            trigger = engine.arm_dead_man(account, timeout * 1_000_000_000, now_ns)
            result = {
                "currentTime": ns_to_rfc3339(now_ns - now_ns % 1_000_000_000, 0),
                "triggerTime": "0" if trigger is None else ns_to_rfc3339(trigger - trigger % 1_000_000_000, 0),
            }
            reply.send(self._answer(envelope, result, now_ns))

    def _cancel_quietly(self, account: str, now_ns: int, venue_id: str | None, client_id: str | None) -> int:
        """1 if the order was open and is cancelled now, else 0 (``batch_cancel`` counts them)."""
        engine = self.desk.engine
        try:
            self.desk.publish(engine.cancel(engine.order(account, venue_id=venue_id, client_id=client_id), now_ns))
        except OrderRejected:
            return 0
        return 1

    def _count_orders(self, envelope: Envelope) -> None:
        if envelope.method not in ("add_order", "batch_add"):
            return
        try:
            raw = envelope.params
            rows = (
                msgspec.json.decode(raw, type=BatchAddParams).orders
                if envelope.method == "batch_add"
                else [msgspec.json.decode(raw, type=AddOrderParams)]
            )
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        for row in rows:
            self.desk.received(row.cl_ord_id)

    # -- frames -----------------------------------------------------------------------------

    def _rows(self, record: Record) -> list[dict[str, Any]]:
        if isinstance(record, OrderAccepted):
            order = record.order
            return [_order_row(order, "pending_new", "pending_new"), _sparse(order, "new", "new", record.time_ns)]
        if isinstance(record, OrderFilled):
            return [_trade_row(record.fill, record.order, "partially_filled")]
        if isinstance(record, OrderAmended):
            row = _sparse(record.order, "amended", record.order.status, record.time_ns)
            spec = record.order.spec
            return [
                row | {"reason": "User requested", "amended": True, "order_qty": spec.qty, "limit_price": spec.price}
            ]
        if isinstance(record, OrderClosed):
            order = record.order
            row = _sparse(order, order.status, order.status, record.time_ns)
            if order.status != "filled":
                reason = order.reason or "User requested"
                row |= {"cancel_reason": reason, "reason": reason}
            return [row]
        return []

    def _ledger_entry(self, change: BalanceChanged) -> dict[str, Any]:
        return {
            "ledger_id": self.desk.ids.new("L"),
            "ref_id": change.fill_id,
            "timestamp": ns_to_rfc3339(change.time_ns),
            "type": "trade",
            "asset": change.asset,
            "asset_class": "currency",
            "category": "trade",
            "wallet_type": "spot",
            "wallet_id": "main",
            "amount": _number(change.amount),
            "fee": _number(change.fee),
            "balance": _number(change.balance),
        }

    def _push(self, channel: str, kind: str, data: list[dict[str, Any]]) -> str:
        self._sequence[channel] = self._sequence.get(channel, 0) + 1
        return self._encode({"channel": channel, "type": kind, "data": data, "sequence": self._sequence[channel]})

    def _answer(self, envelope: Envelope, result: Any, now_ns: int) -> str:
        return self._encode(self._stamped(envelope, {"result": result, "success": True}, now_ns))

    def _error(self, envelope: Envelope, error: str, now_ns: int) -> str:
        return self._encode(self._stamped(envelope, {"error": error, "success": False}, now_ns))

    @staticmethod
    def _stamped(envelope: Envelope, body: dict[str, Any], now_ns: int) -> dict[str, Any]:
        stamped: dict[str, Any] = {"method": envelope.method}
        if envelope.req_id is not None:
            stamped["req_id"] = envelope.req_id
        return stamped | body | {"time_in": ns_to_rfc3339(now_ns), "time_out": ns_to_rfc3339(now_ns)}

    def _encode(self, message: dict[str, Any]) -> str:
        return self._encoder.encode(_numbers(message)).decode()


def _spec(order: OrderParams, symbol: str) -> OrderSpec:
    if order.order_type not in ("market", "limit") or order.triggers is not None or order.reduce_only:
        raise OrderRejected(OrderRejected.INVALID_ORDER, f"order_type {order.order_type}")
    tif = (order.time_in_force or "gtc").lower()
    if tif not in ("gtc", "ioc", "fok"):
        raise OrderRejected(OrderRejected.INVALID_ORDER, f"time_in_force {tif}")
    try:
        shared = SYMBOLS.from_wire(symbol)
    except (KeyError, ValueError):
        raise OrderRejected(OrderRejected.UNKNOWN_SYMBOL, symbol) from None
    return OrderSpec(
        symbol=shared,
        side=order.side,
        kind="market" if order.order_type == "market" else "limit",
        qty=order.order_qty,
        quote_qty=order.cash_order_qty,
        price=order.limit_price,
        time_in_force=tif,  # type: ignore[arg-type]
        post_only=order.post_only,
        client_id=order.cl_ord_id,
    )


def _order_row(order: Order, exec_type: str, status: str) -> dict[str, Any]:
    """A whole order, as ``pending_new`` rows and snapshots carry it."""
    spec = order.spec
    row: dict[str, Any] = {
        "order_id": order.venue_id,
        "symbol": SYMBOLS.to_wire(spec.symbol),
        "order_qty": spec.qty,
        "cash_order_qty": spec.quote_qty,
        "cum_qty": order.filled,
        "cum_cost": order.cost,
        "avg_price": order.avg_price,
        "time_in_force": spec.time_in_force.upper(),
        "exec_type": exec_type,
        "side": spec.side,
        "order_type": spec.kind,
        "cl_ord_id": spec.client_id,
        "limit_price_type": "static",
        "limit_price": spec.price,
        "post_only": spec.post_only,
        "order_status": status,
        "fee_ccy_pref": "fciq",
        "timestamp": ns_to_rfc3339(order.created_ns),
    }
    return {name: value for name, value in row.items() if value is not None}


def _sparse(order: Order, exec_type: str, status: str, time_ns: int) -> dict[str, Any]:
    """A later update: what changed, and the ids (Kraken leaves out symbol and side)."""
    row: dict[str, Any] = {"timestamp": ns_to_rfc3339(time_ns), "order_status": status, "exec_type": exec_type}
    if exec_type != "new":
        row |= {"cum_qty": order.filled, "cum_cost": order.cost, "avg_price": order.avg_price}
    if order.spec.client_id is not None:
        row["cl_ord_id"] = order.spec.client_id
    return row | {"order_id": order.venue_id}


def _trade_row(fill: Fill, order: Order, status: str | None = None) -> dict[str, Any]:
    """One fill; in an update it says where the order stands after it, in a snapshot (``status``
    None) the order's state now."""
    row: dict[str, Any] = {
        "order_id": fill.venue_id,
        "exec_id": fill.fill_id,
        "exec_type": "trade",
        "trade_id": fill.trade_id,
        "symbol": SYMBOLS.to_wire(fill.symbol),
        "side": fill.side,
        "last_qty": fill.qty,
        "last_price": fill.price,
        "liquidity_ind": "m" if fill.liquidity == "maker" else "t",
        "cost": fill.qty * fill.price,
        "order_status": status or order.status,
        "order_type": order.spec.kind,
        "timestamp": ns_to_rfc3339(fill.time_ns),
        "fees": [{"asset": fill.fee_asset, "qty": fill.fee}],
    }
    if order.spec.client_id is not None:
        row["cl_ord_id"] = order.spec.client_id
    if status is not None:
        row |= {"cum_qty": order.filled, "cum_cost": order.cost, "avg_price": order.avg_price}
    return row


def _balance_row(asset: str, total: Decimal) -> dict[str, Any]:
    wallets = [{"type": "spot", "id": "main", "balance": total}]
    return {"asset": asset, "asset_class": "currency", "wallets": wallets, "balance": total}


def _number(value: Decimal) -> msgspec.Raw:
    """A JSON number with the exact digits of ``value``."""
    return msgspec.Raw(f"{value:f}".encode())


def _numbers(value: Any) -> Any:
    """``value`` with every ``Decimal`` as an exact JSON number."""
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        return {key: _numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers(item) for item in value]
    return value
