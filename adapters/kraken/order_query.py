"""Kraken's REST record of closed orders, read to settle an order whose reply was lost.

After a reconnect the ``executions`` snapshot shows the open orders and the last fills. An order
placed just before the socket dropped that has already closed (an IOC that did not fill, a
market order filled and gone) shows in neither, so the account asks ``ClosedOrders`` for it by
its ``cl_ord_id``: the one lookup that tells "closed without a trace on the socket" from "never
placed". Sans-I/O: the request is built here, sent by the account's driver, and its reply read here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from adapters.kraken.auth import read_reply, signed_request
from schemas.trading import OrderState, OrderUpdate
from sdk.credentials import Credentials
from sdk.trading_contract import RestRequest
from sdk.wiretext import decimal_from_text

CLOSED_ORDERS_PATH: Final = "/0/private/ClosedOrders"


class _Closed(msgspec.Struct):
    status: str
    vol: str
    vol_exec: str
    cl_ord_id: str | None = None
    price: str | None = None
    """The average price of what was filled ("0" when nothing was)."""
    reason: str | None = None
    closetm: float | None = None


class _ClosedResult(msgspec.Struct):
    closed: dict[str, _Closed] = {}


class _ClosedReply(msgspec.Struct):
    error: list[str] = []
    result: _ClosedResult | None = None


_REPLY = msgspec.json.Decoder(_ClosedReply)


def closed_orders_request(credentials: Credentials, nonce: int, rest_url: str, client_order_id: str) -> RestRequest:
    """``ClosedOrders`` filtered to the order with ``client_order_id``."""
    return signed_request(credentials, CLOSED_ORDERS_PATH, nonce, rest_url, {"cl_ord_id": client_order_id})


def parse_closed_orders(body: bytes, order: OrderUpdate, received_ns: int) -> OrderUpdate | None:
    """Where ``order`` ended by Kraken's record; None when Kraken lists no such closed order."""
    reply = read_reply(_REPLY, body, "order lookup")
    closed = reply.result.closed if reply.result else {}
    for venue_order_id, record in closed.items():
        if record.cl_ord_id == order.client_order_id:
            return _update(venue_order_id, record, order, received_ns)
    return None


def _update(venue_order_id: str, record: _Closed, order: OrderUpdate, received_ns: int) -> OrderUpdate:
    qty, filled = decimal_from_text(record.vol), decimal_from_text(record.vol_exec)
    average = decimal_from_text(record.price) if record.price and filled else None
    return msgspec.structs.replace(
        order,
        state=_state(record.status, qty, filled),
        venue_order_id=venue_order_id,
        qty=qty,
        filled_qty=filled,
        avg_price=average,
        reason=record.reason,
        ts_exchange=round(record.closetm * 1e9) if record.closetm else None,
        ts_received=received_ns,
    )


def _state(status: str, qty: Decimal, filled: Decimal) -> OrderState:
    """Kraken ``closed`` is a filled order; one closed short of its quantity (an IOC's rest) was cancelled."""
    if status == "closed":
        return "filled" if filled >= qty else "canceled"
    if status == "expired":
        return "expired"
    return "canceled"
