"""msgspec structs mirroring Midchains' trading messages: the requests the account sends and what
the venue answers or pushes.

Requests go out with every number as a string, as Midchains' documentation prints them. Replies
and rows take numbers as strings or JSON numbers (FII's own samples use numbers) and decode them
exactly as ``Decimal``, checked as they decode, as are the millisecond times: once a frame has
decoded, nothing read from it can fail. Fields the venue adds that are not read here are ignored
(the documentation warns that new ones may appear).

Every server message is an object tagged by ``type``; the codec reads that tag first
(``adapters.midchains.wire.Envelope``) and decodes the rest by it, so an unknown type is skipped rather than refused.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from sdk.wiretext import WireValueError, check_number, check_quantity

MS_DIGITS_LIMIT = 16
"""Digits of a millisecond time: enough for ten thousand years to come."""


def ms_to_ns(value: str | int) -> int:
    """Nanoseconds since the epoch from Midchains' milliseconds (``"1557505235085"``, text or number)."""
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= MS_DIGITS_LIMIT):
        raise WireValueError(f"expected a time in milliseconds, got {text[:50]!r}")
    return int(text) * 1_000_000


SIDES = ("B", "S")


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise WireValueError(f"expected side B or S, got {side[:50]!r}")


def _check(*quantities: Decimal | None, numbers: tuple[Decimal | None, ...] = ()) -> None:
    for quantity in quantities:
        if quantity is not None:
            check_quantity(quantity)
    for number in numbers:
        if number is not None:
            check_number(number)


# -- requests -------------------------------------------------------------------------------


class Request(msgspec.Struct, omit_defaults=True, gc=False):
    """A request naming only its ``type``: ``challenge``, ``logout``, ``querypendingpos``."""

    type: str


class Login(msgspec.Struct, gc=False):
    """``pass`` is the password sealed with the challenge's RSA key, base64; never the password."""

    type: str
    userid: str
    password_sealed: str = msgspec.field(name="pass")


class AddOrder(msgspec.Struct, omit_defaults=True, gc=False):
    """``{"type":"addorder","security":"BTCUSD","side":"B","ordertype":"LMT","tif":"GTC",...}``;
    numbers are plain decimal text (``"0.00001"``, never ``"1E-5"``)."""

    type: str
    security: str
    side: str
    ordertype: str
    tif: str
    qty: str | None = None
    price: str | None = None
    amount: str | None = None
    stoptype: str | None = None
    stopprice: str | None = None
    exptime: str | None = None
    alo: bool = False
    clientorderid: str | None = None


class OrderRef(msgspec.Struct, gc=False):
    """``cancelorder`` and ``queryorder``: an order is named by its security and ``refno``; a
    ``cancelorder`` for an order the account has not seen leaves the security ``UNSET`` (dialect T8)."""

    type: str
    security: str | msgspec.UnsetType
    refno: str


class Query(msgspec.Struct, omit_defaults=True, gc=False):
    """``querymultiorders``, ``querytrade`` and ``querypos``: optionally one security (an asset
    for ``querypos``) and records since ``fromtime`` (milliseconds, as text)."""

    type: str
    security: str | None = None
    fromtime: str | None = None


# -- rows: what queries list and what the venue pushes ---------------------------------------


class OrderRow(msgspec.Struct, gc=False):
    """An order as the venue reports it: ``liveqty`` still open, ``execqty`` and ``execamount``
    executed so far (cumulative)."""

    refno: str
    security: str
    side: str
    liveqty: Decimal
    execqty: Decimal
    qty: Decimal | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    execamount: Decimal | None = None
    ordertype: str | None = None
    stoptype: str | None = None
    stopprice: Decimal | None = None
    tif: str | None = None
    clientorderid: str | None = None
    updtime: str | int | None = None

    def __post_init__(self) -> None:
        _check_side(self.side)
        _check(self.liveqty, self.execqty, self.qty, self.amount, self.execamount, numbers=(self.price, self.stopprice))
        if self.updtime is not None:
            ms_to_ns(self.updtime)


class SaleRow(msgspec.Struct, gc=False):
    """One execution of one of the account's orders; ``traderefno`` is unique to it."""

    refno: str
    security: str
    side: str
    execqty: Decimal
    execprice: Decimal
    traderefno: str
    clientorderid: str | None = None
    trdtime: str | int | None = None

    def __post_init__(self) -> None:
        _check_side(self.side)
        _check(self.execqty, numbers=(self.execprice,))
        if self.trdtime is not None:
            ms_to_ns(self.trdtime)


class PositionRow(msgspec.Struct, gc=False):
    """An asset's holding, ``curpos``; ``managedpos`` (pending positions only) is what open
    orders hold of it."""

    security: str
    curpos: Decimal
    managedpos: Decimal | None = None

    def __post_init__(self) -> None:
        _check(self.managedpos, numbers=(self.curpos,))


class OrderPush(msgspec.Struct, gc=False):
    """Pushed ``order`` rows under ``data`` (dialect T1 ``wrapped``); likewise ``sale`` and ``position``."""

    data: list[OrderRow]


class SalePush(msgspec.Struct, gc=False):
    data: list[SaleRow]


class PositionPush(msgspec.Struct, gc=False):
    data: list[PositionRow]


# -- replies ---------------------------------------------------------------------------------


class Result(msgspec.Struct, gc=False):
    """A reply that says only whether it went through: ``challenge`` (with the ``key``), ``login``, ``logout``."""

    result: str
    key: str | None = None


class AddOrderReply(msgspec.Struct, gc=False):
    """The request echoed, with ``result`` and, when accepted, the order's ``refno``."""

    result: str
    security: str | None = None
    side: str | None = None
    ordertype: str | None = None
    tif: str | None = None
    qty: Decimal | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    stopprice: Decimal | None = None
    clientorderid: str | None = None
    refno: str | None = None

    def __post_init__(self) -> None:
        _check(self.qty, self.amount, numbers=(self.price, self.stopprice))


class OrderRefReply(msgspec.Struct, gc=False):
    """``cancelorder`` (and a refused ``queryorder``): the order named, echoed, with ``result``."""

    result: str
    refno: str | None = None
    security: str | None = None


class QueryOrderReply(msgspec.Struct, gc=False):
    result: str
    refno: str | None = None
    data: OrderRow | None = None


class OrdersReply(msgspec.Struct, gc=False):
    """One frame of a ``querymultiorders`` answer: up to 100 of its ``total_rec`` rows."""

    result: str
    data: list[OrderRow] = []
    total_rec: int = 0


class TradesReply(msgspec.Struct, gc=False):
    """One frame of a ``querytrade`` answer."""

    result: str
    data: list[SaleRow] = []
    total_rec: int = 0


class PositionsReply(msgspec.Struct, gc=False):
    """One frame of a ``querypos`` or ``querypendingpos`` answer."""

    result: str
    data: list[PositionRow] = []
    total_rec: int = 0


OK = "OK"
"""``result`` of every request that went through."""
NO_POSITION = ("no position", "no actual position")
"""Position queries' answers for an account that holds nothing: an empty list, not a refusal."""
ORDER_NOT_FOUND = "order not found"
"""``queryorder``'s answer for a ``refno`` the venue does not know (also ``cancelorder``'s)."""
