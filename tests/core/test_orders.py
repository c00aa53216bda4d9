"""The order state machine: one table, checked against an independent model of an order's life."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from schemas import OrderState, OrderUpdate
from sdk.orders import FINAL, TRANSITIONS, OrderTransitionError, apply, forget_final_orders

STATES: tuple[OrderState, ...] = get_args(OrderState)
QTY = Decimal(10)


def update(state: OrderState, filled: Decimal | int = 0, **fields: Any) -> OrderUpdate:
    values: dict[str, Any] = {"venue_order_id": "OVN7VD-7VYHS-APBKHA", "qty": QTY, **fields}
    return OrderUpdate(
        exchange="kraken",
        symbol="BTC/USD",
        side="buy",
        state=state,
        filled_qty=Decimal(filled),
        ts_received=1,
        **values,
    )


# An independent model: an order moves forward through phases (requested, accepted, partly filled,
# done), never back; only a request whose outcome is open may be rejected or found unknown; a final
# state only repeats.
PHASE: dict[OrderState, int] = {
    "pending_new": 0,
    "unknown": 0,
    "new": 1,
    "partially_filled": 2,
    "filled": 3,
    "canceled": 3,
    "rejected": 3,
    "expired": 3,
}


def model_allows(before: OrderState | None, after: OrderState) -> bool:
    if before is None or before == after:
        return True
    if PHASE[before] == 3:
        return False
    if after in ("rejected", "unknown", "pending_new"):
        return PHASE[before] == 0
    return PHASE[after] > PHASE[before]


def test_the_table_covers_every_state() -> None:
    assert set(TRANSITIONS) == {None, *STATES}
    assert {"filled", "canceled", "rejected", "expired"} == FINAL


@pytest.mark.parametrize("before", [None, *STATES])
@pytest.mark.parametrize("after", STATES)
def test_the_table_agrees_with_the_model(before: OrderState | None, after: OrderState) -> None:
    assert (after in TRANSITIONS[before]) == model_allows(before, after)


def test_filled_never_goes_back_to_new() -> None:
    with pytest.raises(OrderTransitionError, match="filled -> new is not a possible move"):
        apply(update("filled", QTY), update("new"))


def test_filled_qty_never_goes_down() -> None:
    with pytest.raises(OrderTransitionError, match="would go down from 4 to 3"):
        apply(update("partially_filled", 4), update("partially_filled", 3))


def test_filled_qty_never_exceeds_the_order() -> None:
    with pytest.raises(OrderTransitionError, match="exceeds qty"):
        apply(None, update("filled", QTY + 1))


def test_an_update_for_another_order_is_refused() -> None:
    with pytest.raises(OrderTransitionError, match="another order"):
        apply(update("new"), update("partially_filled", 1, venue_order_id="OTHER"))


def test_ids_learned_earlier_are_kept() -> None:
    sent = update("pending_new", venue_order_id=None, client_order_id="b17c7bb34d000200")
    accepted = apply(sent, update("new"))
    assert accepted.client_order_id == "b17c7bb34d000200"
    assert accepted.venue_order_id == "OVN7VD-7VYHS-APBKHA"


def test_a_final_order_takes_a_late_fill() -> None:
    canceled = apply(update("canceled", 2), update("canceled", 3))
    assert canceled.state == "canceled"
    assert canceled.filled_qty == 3


class OrderLifecycle(RuleBasedStateMachine):
    """Random updates against one order: ``apply`` takes exactly what the model allows."""

    @initialize()
    def untracked(self) -> None:
        self.order: OrderUpdate | None = None
        self.filled = Decimal(0)
        self.finished: OrderState | None = None
        self.client_id: str | None = None

    @rule(state=st.sampled_from(STATES), change=st.integers(-2, 4), client_id=st.sampled_from([None, "cid-1"]))
    def receive(self, state: OrderState, change: int, client_id: str | None) -> None:
        filled = max(self.filled + change, Decimal(0))
        incoming = update(state, filled, client_order_id=client_id)
        before = None if self.order is None else self.order.state
        allowed = model_allows(before, state) and self.filled <= filled <= QTY
        if not allowed:
            with pytest.raises(OrderTransitionError):
                apply(self.order, incoming)
            return
        self.order = apply(self.order, incoming)
        assert self.order.state == state
        assert self.order.filled_qty == filled
        self.filled = filled
        if state in FINAL:
            self.finished = state
        if client_id is not None:
            self.client_id = client_id

    @rule()
    def replay_the_last(self) -> None:
        """A snapshot after a reconnect repeats the order as it stands: always accepted, changes nothing."""
        if self.order is not None:
            assert apply(self.order, self.order) == self.order

    @rule()
    def confuse_with_another_order(self) -> None:
        if self.order is not None:
            with pytest.raises(OrderTransitionError):
                apply(self.order, msgspec.structs.replace(self.order, venue_order_id="ANOTHER"))

    @invariant()
    def finished_orders_stay_finished(self) -> None:
        if self.finished is not None:
            assert self.order is not None and self.order.state == self.finished

    @invariant()
    def filled_qty_is_what_was_accepted(self) -> None:
        assert (self.order.filled_qty if self.order else Decimal(0)) == self.filled

    @invariant()
    def a_client_id_once_known_is_kept(self) -> None:
        if self.client_id is not None:
            assert self.order is not None
            assert self.order.client_order_id == self.client_id


TestOrderLifecycle = OrderLifecycle.TestCase


def test_a_codecs_memory_of_orders_is_bounded_and_keeps_every_open_order() -> None:
    def order(number: int, state: OrderState) -> OrderUpdate:
        return OrderUpdate(
            exchange="x", symbol="BTC/USD", side="buy", state=state, venue_order_id=str(number),
            filled_qty=Decimal(0), ts_received=number,
        )  # fmt: skip

    orders = {str(n): order(n, "new" if n % 3 == 0 else "canceled") for n in range(30)}
    forget_final_orders(orders, keep=15)  # 30 is not past twice 15: nothing goes
    assert len(orders) == 30
    orders["30"] = order(30, "canceled")
    forget_final_orders(orders, keep=15)
    assert len(orders) == 15
    assert all(orders[str(n)].state == "new" for n in range(0, 30, 3))  # every open order stays
    assert [k for k, o in orders.items() if o.state == "canceled"] == ["25", "26", "28", "29", "30"]  # the newest final
