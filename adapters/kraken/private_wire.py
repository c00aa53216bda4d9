"""Kraken v2 private messages as msgspec structs: the ``executions`` and ``balances`` channels,
the replies to trading methods, and the trading requests sent.

Channel pushes decode as one union tagged by ``channel``; replies (``method``/``success``/``result``
or ``error``) have no ``channel``. Every execution field but ``order_id`` and ``exec_type`` is
optional: only ``pending_new`` and snapshot rows carry the whole order, later updates carry what
changed. Numbers are JSON numbers, read into ``Decimal`` from their text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

from schemas.events import Side


class Fee(msgspec.Struct, gc=False):
    asset: str
    qty: Decimal


class Triggers(msgspec.Struct, gc=False):
    price: Decimal | None = None
    reference: str | None = None
    price_type: str | None = None


class Execution(msgspec.Struct, gc=False):
    """One row of ``executions``: what happened (``exec_type``) and where the order stands."""

    order_id: str
    exec_type: str
    order_status: str | None = None
    timestamp: str | None = None
    symbol: str | None = None
    side: Side | None = None
    order_type: str | None = None
    cl_ord_id: str | None = None
    order_qty: Decimal | None = None
    cash_order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    triggers: Triggers | None = None
    cum_qty: Decimal | None = None
    avg_price: Decimal | None = None
    exec_id: str | None = None
    trade_id: int | None = None
    last_qty: Decimal | None = None
    last_price: Decimal | None = None
    liquidity_ind: Literal["m", "t"] | None = None
    fees: list[Fee] = []
    reason: str | None = None
    cancel_reason: str | None = None


class ExecutionsMessage(msgspec.Struct, tag_field="channel", tag="executions", gc=False):
    type: Literal["snapshot", "update"]
    data: list[Execution]
    sequence: int | None = None


class Wallet(msgspec.Struct, gc=False):
    type: str
    id: str
    balance: Decimal


class BalanceRow(msgspec.Struct, gc=False):
    """A snapshot row (the asset's total, and its wallets once Kraken has several) or an update
    row (one ledger entry, with the wallet's balance after it)."""

    asset: str
    balance: Decimal
    wallets: list[Wallet] | None = None
    wallet_type: str | None = None
    wallet_id: str | None = None
    timestamp: str | None = None


class BalancesMessage(msgspec.Struct, tag_field="channel", tag="balances", gc=False):
    type: Literal["snapshot", "update"]
    data: list[BalanceRow]
    sequence: int | None = None


PrivateChannelMessage = ExecutionsMessage | BalancesMessage


class ReplyResult(msgspec.Struct, gc=False):
    """The ``result`` of a trading reply: each method fills in some of these."""

    order_id: str | None = None
    cl_ord_id: str | None = None
    amend_id: str | None = None
    original_order_id: str | None = None
    count: int | None = None
    channel: str | None = None
    trigger_time: str | None = msgspec.field(default=None, name="triggerTime")
    """When the dead man's switch fires (``"0"`` or absent: disarmed); Kraken spells it in camelCase."""


class Reply(msgspec.Struct, gc=False):
    """A reply to a request. ``batch_add`` answers with a list, one result per order sent."""

    method: str
    success: bool
    req_id: int | None = None
    result: ReplyResult | list[ReplyResult] | None = None
    error: str | None = None
    time_out: str | None = None
    orders_cancelled: int | None = None
    """``batch_cancel``'s count, which Kraken puts beside ``result`` rather than in it."""


class TriggerParams(msgspec.Struct, omit_defaults=True, gc=False):
    price: Decimal


class OrderParams(msgspec.Struct, omit_defaults=True, gc=False):
    """An order as ``add_order`` (with ``symbol``) and ``batch_add`` (without) send it."""

    order_type: str
    side: Side
    symbol: str | None = None
    order_qty: Decimal | None = None
    cash_order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    triggers: TriggerParams | None = None
    time_in_force: str | None = None
    expire_time: str | None = None
    post_only: bool = False
    reduce_only: bool = False
    cl_ord_id: str | None = None


class AddOrderParams(OrderParams, kw_only=True, omit_defaults=True, gc=False):
    validate: bool = False
    token: str


class BatchAddParams(msgspec.Struct, omit_defaults=True, gc=False):
    symbol: str
    orders: list[OrderParams]
    token: str
    validate: bool = False


class AmendParams(msgspec.Struct, omit_defaults=True, gc=False):
    token: str
    order_id: str | None = None
    cl_ord_id: str | None = None
    order_qty: Decimal | None = None
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    post_only: bool = False


class Request(msgspec.Struct, gc=False):
    method: str
    params: object
    req_id: int


class RequestId(msgspec.Struct, gc=False):
    """Just the id of a request frame."""

    req_id: int
