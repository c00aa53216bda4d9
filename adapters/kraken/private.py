"""Sans-I/O codec for Kraken v2's private socket (``wss://ws-auth.kraken.com/v2``): trading
requests out, ``executions``, ``balances`` and method replies in, as the shared trading events.

Kraken's order updates are sparse: after ``pending_new`` a row says what changed and little else
(no symbol, no side, often no client id). The codec keeps the latest ``OrderUpdate`` of each order
by its venue ``order_id`` and fills every update in from it, so each ``OrderUpdate`` it yields is
the order's whole picture. It learns orders from snapshots, from ``pending_new`` rows and from the
orders it encoded itself; a sparse row for an order it never learnt cannot name a symbol or side,
and is reported as an ``ErrorEvent`` for the account to reconcile.

Fills are de-duplicated by ``exec_id``: a reconnect snapshot re-sends the last trades.

The session token is an argument of each encoding call and goes only into the frame returned;
nothing here keeps it, and the ``SignedFrame`` holding it prints without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import msgspec

from adapters.kraken.channels import SYMBOLS
from adapters.kraken.codec import KrakenCodec
from adapters.kraken.private_wire import (
    AddOrderParams,
    AmendParams,
    BalancesMessage,
    BatchAddParams,
    Execution,
    ExecutionsMessage,
    OrderParams,
    PrivateChannelMessage,
    Reply,
    ReplyResult,
    Request,
    RequestId,
    TriggerParams,
)
from schemas.events import ErrorEvent, Instrument, Status
from schemas.trading import Balance, Fill, OrderKind, OrderRequest, OrderState, OrderUpdate
from sdk.contract import frame_error
from sdk.credentials import Secret
from sdk.orders import FINAL, OrderTransitionError, apply, forget_final_orders, requested
from sdk.subscriptions import instruments
from sdk.symbols import SymbolMap
from sdk.trading_contract import Answer, Decoded, SignedFrame, SnapshotDone, TradingCodec
from sdk.wiretext import WireValueError, check_number, check_quantity, ns_to_rfc3339, rfc3339_to_ns

ORDER_TYPES: Final[dict[OrderKind, str]] = {
    "market": "market",
    "limit": "limit",
    "stop_loss": "stop-loss",
    "stop_loss_limit": "stop-loss-limit",
    "take_profit": "take-profit",
    "take_profit_limit": "take-profit-limit",
}
"""Shared order kinds and Kraken's ``order_type``; Kraken's others (iceberg, trailing stops,
settle-position) have no shared kind and decode with ``order_type`` None."""
_KINDS: Final[dict[str, OrderKind]] = {wire: kind for kind, wire in ORDER_TYPES.items()}

_STATES: Final[dict[str, OrderState]] = {
    "pending_new": "pending_new",
    "new": "new",
    "partially_filled": "partially_filled",
    "filled": "filled",
    "canceled": "canceled",
    "expired": "expired",
    "triggered": "new",
}
"""Kraken ``order_status`` (the state after the event) to the shared state."""

_CONCLUDING: Final[dict[str, OrderState]] = {"filled": "filled", "canceled": "canceled", "expired": "expired"}
"""``exec_type`` values that settle the state whatever ``order_status`` says."""

_TOKEN_REJECTED: Final = ("Invalid token", "Invalid session", "Token(s) not found")
"""Kraken's refusals of a token that is no longer valid (a new one from REST fixes them)."""

_PUBLIC_CHANNEL: Final = re.compile(rb'"channel"\s*:\s*"(?:instrument|status|heartbeat)"')
"""Public channels the account reads on the same socket (instrument data, venue status)."""
_PUBLIC_KEPT: Final = (Instrument, Status, ErrorEvent)

FILLS_REMEMBERED: Final = 4096
"""``exec_id``s kept to de-duplicate by: far more than the 50 trades a reconnect snapshot re-sends."""


@dataclass(frozen=True, slots=True)
class _Placing:
    """Orders of a request awaiting its reply, in the order sent."""

    orders: tuple[OrderRequest, ...]


class KrakenPrivateCodec(TradingCodec):
    """Encodes trading requests and decodes the private socket's frames into trading events.

    The authenticated socket also serves public channels; the account reads the instrument
    channel there (the pre-trade check's reference data) and status, through the public codec.

    ``decode_frame`` raises ``WireValueError`` for a frame it cannot read; the codec's state is
    then exactly as before the frame, so the next frame decodes as if the bad one never came.
    """

    def __init__(self, exchange: str = "kraken", symbols: SymbolMap = SYMBOLS) -> None:
        self.exchange = exchange
        self.symbols = symbols
        self._public = KrakenCodec(exchange, symbols)
        self._messages = msgspec.json.Decoder(PrivateChannelMessage)
        self._replies = msgspec.json.Decoder(Reply)
        self._request_ids = msgspec.json.Decoder(RequestId)
        self._encoder = msgspec.json.Encoder(decimal_format="number")
        self._placing: dict[int, _Placing] = {}
        self._orders: dict[str, OrderUpdate] = {}
        self._fills: dict[str, None] = {}
        """``exec_id``s seen, oldest first (a dict keeps insertion order)."""

    def __repr__(self) -> str:
        return f"KrakenPrivateCodec(exchange={self.exchange!r}, orders={len(self._orders)})"

    # -- requests ---------------------------------------------------------------------------

    def subscribe_private(self, token: Secret | None) -> list[SignedFrame]:
        """``executions`` and ``balances`` with their snapshots, and the public instrument data."""
        frames = [self.subscribe_executions(token), self.subscribe_balances(token)]
        for text in self._public.subscribe([instruments()]):
            frames.append(SignedFrame("subscribe", self._request_ids.decode(text).req_id, text))
        return frames

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        """The ``add_order`` frame for ``order``; its reply is matched to it by ``req_id``."""
        params = AddOrderParams(
            **msgspec.structs.asdict(self._order_params(order, with_symbol=True)),
            validate=order.validate_only,
            token=_reveal(token),
        )
        return self._placing_request("add_order", params, (order,))

    def batch_add(self, orders: Sequence[OrderRequest], token: Secret | None) -> SignedFrame:
        """One ``batch_add`` frame for 2 to 15 orders of one symbol, all validate-only or none."""
        if not 2 <= len(orders) <= 15:
            raise ValueError(f"a batch holds 2 to 15 orders, not {len(orders)}")
        if len({order.symbol for order in orders}) != 1 or len({order.validate_only for order in orders}) != 1:
            raise ValueError("a batch's orders share one symbol and one validate_only")
        params = BatchAddParams(
            symbol=self.symbols.to_wire(orders[0].symbol),
            orders=[self._order_params(order, with_symbol=False) for order in orders],
            token=_reveal(token),
            validate=orders[0].validate_only,
        )
        return self._placing_request("batch_add", params, tuple(orders))

    def amend_order(
        self,
        token: Secret | None,
        *,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        post_only: bool = False,
    ) -> SignedFrame:
        """``amend_order`` for one order named by exactly one of its ids; the order keeps its ids."""
        if (venue_order_id is None) == (client_order_id is None):
            raise ValueError("name the order by exactly one of venue_order_id and client_order_id")
        params = AmendParams(
            token=_reveal(token),
            order_id=venue_order_id,
            cl_ord_id=client_order_id,
            order_qty=qty,
            limit_price=price,
            trigger_price=stop_price,
            post_only=post_only,
        )
        return self._request("amend_order", params)

    def cancel_order(
        self, token: Secret | None, *, venue_order_ids: Sequence[str] = (), client_order_ids: Sequence[str] = ()
    ) -> SignedFrame:
        """``cancel_order`` for orders named by one kind of id; Kraken replies once per order."""
        params = self._cancel_params(token, "order_id", venue_order_ids, client_order_ids)
        return self._request("cancel_order", params, replies=len(venue_order_ids) or len(client_order_ids))

    def batch_cancel(
        self, token: Secret | None, *, venue_order_ids: Sequence[str] = (), client_order_ids: Sequence[str] = ()
    ) -> SignedFrame:
        """``batch_cancel`` (2 to 50 orders), answered by one reply with the count cancelled."""
        return self._request("batch_cancel", self._cancel_params(token, "orders", venue_order_ids, client_order_ids))

    def cancel_all(self, token: Secret | None) -> SignedFrame:
        """``cancel_all``: every open order of the account, on every pair."""
        return self._request("cancel_all", {"token": _reveal(token)})

    def cancel_all_orders_after(self, timeout_s: int, token: Secret | None) -> SignedFrame:
        """Arm (or, with 0, disarm) the venue's dead man's switch: every order is cancelled unless
        this is sent again within ``timeout_s`` seconds."""
        if timeout_s < 0:
            raise ValueError(f"timeout_s must not be negative, not {timeout_s}")
        return self._request("cancel_all_orders_after", {"timeout": timeout_s, "token": _reveal(token)})

    def subscribe_executions(self, token: Secret | None, *, trades: bool = True) -> SignedFrame:
        """Subscribe ``executions`` with a snapshot of the open orders and, with ``trades``, of the
        last 50 fills: after a reconnect those are what rebuilds the account."""
        return self._request(
            "subscribe", {"channel": "executions", "token": _reveal(token), "snap_orders": True, "snap_trades": trades}
        )

    def subscribe_balances(self, token: Secret | None) -> SignedFrame:
        """Subscribe ``balances`` with a snapshot of every asset's total."""
        return self._request("subscribe", {"channel": "balances", "token": _reveal(token), "snapshot": True})

    def _order_params(self, order: OrderRequest, *, with_symbol: bool) -> OrderParams:
        return OrderParams(
            order_type=ORDER_TYPES[order.order_type],
            side=order.side,
            symbol=self.symbols.to_wire(order.symbol) if with_symbol else None,
            order_qty=order.qty,
            cash_order_qty=order.quote_qty,
            limit_price=order.price,
            triggers=TriggerParams(price=order.stop_price) if order.stop_price is not None else None,
            time_in_force=None if order.time_in_force == "gtc" else order.time_in_force,
            expire_time=ns_to_rfc3339(order.expire_time) if order.expire_time is not None else None,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            cl_ord_id=order.client_order_id,
        )

    @staticmethod
    def _cancel_params(
        token: Secret | None, venue_key: str, venue_order_ids: Sequence[str], client_order_ids: Sequence[str]
    ) -> dict[str, Any]:
        if bool(venue_order_ids) == bool(client_order_ids):
            raise ValueError("name the orders by exactly one of venue_order_ids and client_order_ids")
        if venue_order_ids:
            return {venue_key: list(venue_order_ids), "token": _reveal(token)}
        return {"cl_ord_id": list(client_order_ids), "token": _reveal(token)}

    def _placing_request(self, method: str, params: object, orders: tuple[OrderRequest, ...]) -> SignedFrame:
        frame = self._request(method, params)
        self._placing[frame.req_id] = _Placing(orders)
        return frame

    def _request(self, method: str, params: object, replies: int = 1) -> SignedFrame:
        """Request ids come from the public codec's counter: both share the socket."""
        req_id = self._public.next_request_id()
        request = Request(method=method, params=params, req_id=req_id)
        return SignedFrame(method, req_id, self._encoder.encode(request).decode(), replies)

    def forget_requests(self) -> None:
        self._placing.clear()

    def token_rejected(self, error: str) -> bool:
        return any(text in error for text in _TOKEN_REJECTED)

    def rate_limited(self, error: str) -> bool:
        return "Rate limit exceeded" in error

    # -- frames -----------------------------------------------------------------------------

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        """What one received frame says: trading events, answers, snapshot ends, instruments."""
        try:
            message = self._messages.decode(frame)
        except msgspec.MsgspecError as not_a_channel_message:
            try:
                reply = self._replies.decode(frame)
            except msgspec.MsgspecError as not_a_reply:
                if _PUBLIC_CHANNEL.search(frame if isinstance(frame, bytes) else frame.encode()):
                    return [e for e in self._public.decode_frame(frame, received_ns) if isinstance(e, _PUBLIC_KEPT)]
                raise WireValueError(
                    f"neither a private channel message ({not_a_channel_message}) nor a reply ({not_a_reply})"
                ) from None
            return self._reply(reply, frame, received_ns)
        if isinstance(message, ExecutionsMessage):
            return self._executions(message, frame, received_ns)
        return self._balances(message, received_ns)

    def _error(self, message: str, frame: bytes | str, received_ns: int) -> ErrorEvent:
        return frame_error(self.exchange, message, frame, received_ns)

    # -- replies ----------------------------------------------------------------------------

    def _reply(self, reply: Reply, frame: bytes | str, received_ns: int) -> list[Decoded]:
        """Order placements answer with the orders' first updates; other replies confirm what the
        ``executions`` channel will show, so only their refusals are events. Every reply with a
        ``req_id`` is also an ``Answer`` for whoever awaits it."""
        ts = rfc3339_to_ns(reply.time_out) if reply.time_out else None
        placing = self._placing.get(reply.req_id) if reply.req_id is not None else None
        if placing is not None and reply.req_id is not None and reply.method in ("add_order", "batch_add"):
            fresh, settled = self._placed(placing, reply, ts, received_ns)
            del self._placing[reply.req_id]
            return [*fresh, Answer(reply.req_id, reply.method, reply.success, reply.error, settled)]
        events: list[Decoded] = []
        if not reply.success:
            request = "a request" if reply.method == "error" else reply.method  # Kraken's answer to unreadable input
            events.append(self._error(f"{request} refused: {reply.error or 'no reason given'}", frame, received_ns))
        if reply.req_id is not None:
            events.append(self._answer(reply))
        return events

    @staticmethod
    def _answer(reply: Reply) -> Answer:
        result = reply.result if isinstance(reply.result, ReplyResult) else None
        count = reply.orders_cancelled if reply.orders_cancelled is not None else result.count if result else None
        trigger = result.trigger_time if result else None
        trigger_ns = rfc3339_to_ns(trigger) if trigger and trigger != "0" else None
        assert reply.req_id is not None
        return Answer(reply.req_id, reply.method, reply.success, reply.error, count=count, trigger_ns=trigger_ns)

    def _placed(
        self, placing: _Placing, reply: Reply, ts: int | None, received_ns: int
    ) -> tuple[list[OrderUpdate], tuple[OrderUpdate, ...]]:
        """The updates the reply is first to tell (``pending_new`` or ``rejected``), and where each
        placed order stands, which its executions may already have shown (they can come first)."""
        if not reply.success:
            reason = reply.error or "refused without a reason"
            rejected = [
                requested(self.exchange, order, "rejected", reason=reason, ts_exchange=ts, received_ns=received_ns)
                for order in placing.orders
            ]
            return rejected, tuple(rejected)
        results = reply.result if isinstance(reply.result, list) else [reply.result or ReplyResult()]
        if len(results) != len(placing.orders):
            raise WireValueError(f"{reply.method} answered {len(results)} results for {len(placing.orders)} orders")
        fresh: list[OrderUpdate] = []
        settled: list[OrderUpdate] = []
        for order, result in zip(placing.orders, results, strict=True):
            if not result.order_id:  # validate-only: nothing was placed
                continue
            known = self._orders.get(result.order_id)
            if known is None:
                known = self._orders[result.order_id] = requested(
                    self.exchange,
                    order,
                    "pending_new",
                    venue_order_id=result.order_id,
                    ts_exchange=ts,
                    received_ns=received_ns,
                )
                fresh.append(known)
            settled.append(known)
        return fresh, tuple(settled)

    # -- executions -------------------------------------------------------------------------

    def _executions(self, message: ExecutionsMessage, frame: bytes | str, received_ns: int) -> list[Decoded]:
        """Each row on its own (a frame may mix trades, fills and state changes); the frame's
        orders and fills are committed only once every row has decoded."""
        orders: dict[str, OrderUpdate] = {}
        fills: dict[str, None] = {}
        events: list[Decoded] = []
        for row in message.data:
            before = orders.get(row.order_id) or self._orders.get(row.order_id)
            fill = self._fill(row, before, received_ns)
            if fill is not None and (fill.fill_id in self._fills or fill.fill_id in fills):
                fill = None  # re-sent: already delivered, and already counted in filled_qty
            update = self._order_update(row, before, fill, received_ns)
            if update is None:
                events.append(
                    self._error(f"update for order {row.order_id} this account never saw", frame, received_ns)
                )
                continue
            if fill is not None:
                fills[fill.fill_id] = None
                events.append(fill)
            try:
                orders[row.order_id] = apply(before, update)
            except OrderTransitionError as impossible:
                events.append(self._error(str(impossible), frame, received_ns))
                continue
            events.append(orders[row.order_id])
        self._orders.update(orders)
        forget_final_orders(self._orders)
        self._fills.update(fills)
        while len(self._fills) > FILLS_REMEMBERED:
            del self._fills[next(iter(self._fills))]
        if message.type == "snapshot":
            open_ids = tuple(i for i, update in orders.items() if update.state not in FINAL)
            events.append(SnapshotDone("orders", open_ids))
        return events

    def _fill(self, row: Execution, before: OrderUpdate | None, received_ns: int) -> Fill | None:
        if row.exec_type != "trade":
            return None
        if row.exec_id is None or row.last_qty is None or row.last_price is None:
            raise WireValueError(f"trade of order {row.order_id} without exec_id, last_qty or last_price")
        symbol = self.symbols.from_wire(row.symbol) if row.symbol else before.symbol if before else None
        side = row.side or (before.side if before else None)
        if symbol is None or side is None:
            raise WireValueError(f"trade {row.exec_id} of an unknown order without symbol and side")
        fee, fee_asset = Decimal(0), None
        for charge in row.fees:
            if fee_asset is not None and charge.asset != fee_asset:
                raise WireValueError(f"trade {row.exec_id} charged fees in several assets")
            fee, fee_asset = fee + check_number(charge.qty), charge.asset
        return Fill(
            exchange=self.exchange,
            symbol=symbol,
            fill_id=row.exec_id,
            venue_order_id=row.order_id,
            client_order_id=row.cl_ord_id or (before.client_order_id if before else None),
            trade_id=str(row.trade_id) if row.trade_id is not None else None,
            side=side,
            qty=check_quantity(row.last_qty),
            price=check_number(row.last_price),
            fee=fee,
            fee_asset=fee_asset,
            liquidity=None if row.liquidity_ind is None else "maker" if row.liquidity_ind == "m" else "taker",
            order_type=_KINDS.get(row.order_type) if row.order_type else before.order_type if before else None,
            ts_exchange=rfc3339_to_ns(row.timestamp) if row.timestamp else None,
            ts_received=received_ns,
        )

    def _order_update(
        self, row: Execution, before: OrderUpdate | None, fill: Fill | None, received_ns: int
    ) -> OrderUpdate | None:
        """The order after ``row``, every field filled in from ``before``; None when neither
        names the symbol and side."""
        symbol = self.symbols.from_wire(row.symbol) if row.symbol else before.symbol if before else None
        side = row.side or (before.side if before else None)
        if symbol is None or side is None:
            return None
        qty = check_quantity(row.order_qty) if row.order_qty is not None else before.qty if before else None
        filled_before = before.filled_qty if before else Decimal(0)
        if row.cum_qty is not None:
            filled = check_quantity(row.cum_qty)
        elif fill is not None:
            filled = filled_before + fill.qty
        else:
            filled = filled_before
        state = self._state(row, before, filled, qty)
        if state == "filled" and qty is not None and row.cum_qty is None:
            filled = max(filled, qty)  # a snapshot trade row names the order filled, not its total
        avg_price = self._avg_price(row, before, fill, filled)
        stop = row.triggers.price if row.triggers and row.triggers.price is not None else row.stop_price
        return OrderUpdate(
            exchange=self.exchange,
            symbol=symbol,
            side=side,
            state=state,
            venue_order_id=row.order_id,
            client_order_id=row.cl_ord_id or (before.client_order_id if before else None),
            order_type=_KINDS.get(row.order_type) if row.order_type else before.order_type if before else None,
            qty=qty,
            quote_qty=(
                check_quantity(row.cash_order_qty)
                if row.cash_order_qty is not None
                else before.quote_qty
                if before
                else None
            ),
            filled_qty=filled,
            avg_price=avg_price,
            price=check_number(row.limit_price) if row.limit_price else before.price if before else None,
            stop_price=check_number(stop) if stop else before.stop_price if before else None,
            reason=row.reason or row.cancel_reason,
            ts_exchange=rfc3339_to_ns(row.timestamp) if row.timestamp else None,
            ts_received=received_ns,
        )

    @staticmethod
    def _state(row: Execution, before: OrderUpdate | None, filled: Decimal, qty: Decimal | None) -> OrderState:
        """``exec_type`` settles final states; a trade that fills the order is ``filled`` even
        where Kraken's ``order_status`` still says ``partially_filled`` (its completion follows)."""
        concluded = _CONCLUDING.get(row.exec_type)
        if concluded is not None:
            return concluded
        if row.exec_type == "trade" and qty is not None and filled >= qty:
            return "filled"
        state = _STATES.get(row.order_status) if row.order_status else None
        if state is not None:
            return state
        if row.exec_type == "trade":
            return "partially_filled"
        return before.state if before else "unknown"

    @staticmethod
    def _avg_price(row: Execution, before: OrderUpdate | None, fill: Fill | None, filled: Decimal) -> Decimal | None:
        """Kraken's ``avg_price`` where it gives one for a filled quantity; else the one fill's
        price, or the last known average while nothing more was filled; else unknown (None)."""
        if not filled:
            return None
        if row.avg_price:
            return check_number(row.avg_price)
        before_filled = before.filled_qty if before else Decimal(0)
        if fill is not None and not before_filled:
            return fill.price
        if before is not None and before_filled == filled:
            return before.avg_price
        return None

    # -- balances ---------------------------------------------------------------------------

    def _balances(self, message: BalancesMessage, received_ns: int) -> list[Decoded]:
        """A snapshot row gives the asset's total and each wallet's; an update row the balance of
        the wallet its ledger entry moved."""
        events: list[Decoded] = []
        for row in message.data:
            ts = rfc3339_to_ns(row.timestamp) if row.timestamp else None
            if row.wallet_type is not None and row.wallet_id is not None:
                events.append(
                    self._balance(row.asset, row.balance, f"{row.wallet_type}:{row.wallet_id}", ts, received_ns)
                )
                continue
            events.append(self._balance(row.asset, row.balance, None, ts, received_ns))
            events.extend(
                self._balance(row.asset, wallet.balance, f"{wallet.type}:{wallet.id}", ts, received_ns)
                for wallet in row.wallets or ()
            )
        if message.type == "snapshot":
            events.append(SnapshotDone("balances"))
        return events

    def _balance(self, asset: str, total: Decimal, wallet: str | None, ts: int | None, received_ns: int) -> Balance:
        return Balance(
            exchange=self.exchange,
            asset=asset,
            total=check_number(total),
            wallet=wallet,
            ts_exchange=ts,
            ts_received=received_ns,
        )


def _reveal(token: Secret | None) -> str:
    """The token's text for the frame; every Kraken private request carries one."""
    if token is None:
        raise ValueError("Kraken's private requests need the session token from GetWebSocketsToken")
    return token.reveal()
