"""How a tracked order may move: one transition table, and the pure function that applies an update.

The states are schema (``schemas.trading.OrderState``, shared with consumers in other languages);
the rules of moving between them are the core's, used alike by the account that tracks orders
and by a simulator that must never emit an impossible sequence, so they live here, beside the
subscription ledger's table, rather than in the schema. Sans-I/O: updates in, orders out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from schemas.trading import OrderRequest, OrderState, OrderUpdate

_SETTLING: Final[frozenset[OrderState]] = frozenset(
    {"pending_new", "new", "partially_filled", "filled", "canceled", "rejected", "expired", "unknown"}
)
"""Where a request whose outcome is open may go: anywhere, as the venue decides."""

TRANSITIONS: Final[dict[OrderState | None, frozenset[OrderState]]] = {
    None: _SETTLING,
    "pending_new": _SETTLING,
    "unknown": _SETTLING,
    "new": frozenset({"new", "partially_filled", "filled", "canceled", "expired"}),
    "partially_filled": frozenset({"partially_filled", "filled", "canceled", "expired"}),
    "filled": frozenset({"filled"}),
    "canceled": frozenset({"canceled"}),
    "rejected": frozenset({"rejected"}),
    "expired": frozenset({"expired"}),
}
"""State (None: not tracked yet) -> the states an update may move it to; the update's own state
is the next one. An order first seen in any state (a snapshot after a reconnect, a fill before the
acknowledgement) is taken as it is; a request not yet acknowledged, or whose reply was lost, may
turn out any way; an accepted order is never rejected nor back to pending; a final state only
repeats (a snapshot re-sending it), and a repeat may still raise ``filled_qty`` (a fill reported
after the cancel that ended the order)."""

FINAL: Final[frozenset[OrderState]] = frozenset(
    state for state, after in TRANSITIONS.items() if state is not None and after == {state}
)
"""States no update leaves: filled, canceled, rejected, expired."""

FINAL_ORDERS_REMEMBERED: Final = 4096
"""Final orders a codec keeps to fill in the sparse rows still to come about them (a late fill, a
snapshot re-sending them): far more than a reconnect snapshot re-sends."""


def forget_final_orders(orders: dict[str, OrderUpdate], keep: int = FINAL_ORDERS_REMEMBERED) -> None:
    """Bound what a codec remembers of orders: past ``2 * keep`` orders, the oldest final ones go
    until ``keep`` are left (open orders always stay: their sparse updates need them). Checked
    after each frame, the cost is a dictionary length except once every ``keep`` orders."""
    if len(orders) <= 2 * keep:
        return
    finished = [key for key, order in orders.items() if order.state in FINAL]
    for key in finished[: len(orders) - keep]:
        del orders[key]


def requested(
    exchange: str,
    order: OrderRequest,
    state: OrderState,
    *,
    received_ns: int,
    venue_order_id: str | None = None,
    reason: str | None = None,
    ts_exchange: int | None = None,
) -> OrderUpdate:
    """The order as requested, nothing filled: its first update (``pending_new`` with the venue's
    id, ``rejected``), or one for an order the venue has given no id (in doubt, not sent, validated)."""
    return OrderUpdate(
        exchange=exchange,
        symbol=order.symbol,
        side=order.side,
        state=state,
        venue_order_id=venue_order_id,
        client_order_id=order.client_order_id,
        order_type=order.order_type,
        qty=order.qty,
        quote_qty=order.quote_qty,
        filled_qty=Decimal(0),
        price=order.price,
        stop_price=order.stop_price,
        reason=reason,
        ts_exchange=ts_exchange,
        ts_received=received_ns,
    )


class OrderTransitionError(ValueError):
    """An update the tracked order cannot take: the message names the order, the move and why."""


def apply(order: OrderUpdate | None, update: OrderUpdate) -> OrderUpdate:
    """The order after ``update``: the update itself, with ids the order already knew kept where
    the update lacks them.

    Raises ``OrderTransitionError`` for an impossible state change (``filled`` -> ``new``), a
    filled quantity that would go down or above the ordered quantity, or an update that belongs
    to another order (a different symbol, side or id). The tracked order is then left as it was.
    """
    if order is None:
        _check_quantities(None, update)
        return update
    name = update.venue_order_id or update.client_order_id or order.venue_order_id or order.client_order_id
    if update.state not in TRANSITIONS[order.state]:
        raise OrderTransitionError(f"order {name}: {order.state} -> {update.state} is not a possible move")
    for field in ("symbol", "side", "venue_order_id", "client_order_id"):
        before, after = getattr(order, field), getattr(update, field)
        if before is not None and after is not None and before != after:
            raise OrderTransitionError(f"order {name}: update is for another order ({field} {after!r}, not {before!r})")
    _check_quantities(order, update)
    return msgspec.structs.replace(
        update,
        venue_order_id=update.venue_order_id or order.venue_order_id,
        client_order_id=update.client_order_id or order.client_order_id,
    )


def _check_quantities(order: OrderUpdate | None, update: OrderUpdate) -> None:
    name = update.venue_order_id or update.client_order_id
    if update.filled_qty < 0:
        raise OrderTransitionError(f"order {name}: filled_qty {update.filled_qty} is negative")
    if update.qty is not None and update.filled_qty > update.qty:
        raise OrderTransitionError(f"order {name}: filled_qty {update.filled_qty} exceeds qty {update.qty}")
    if order is not None and update.filled_qty < order.filled_qty:
        raise OrderTransitionError(
            f"order {name}: filled_qty would go down from {order.filled_qty} to {update.filled_qty}"
        )
