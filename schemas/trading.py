"""The exchange-agnostic trading types: the order a user asks for, and what an account yields.

``TradingEvent`` is a second tagged union beside the market ``Event``, in the same style: frozen
msgspec Structs tagged by class name in ``type``, ``Decimal`` amounts built from the venue's own
text, integer nanosecond times and the ``exchange`` that sent each event. It reuses the market
schema's connection events (``Status``, ``ErrorEvent``, ``Disconnected``, ``Reconnected``) rather
than inventing twins, and adds one control event of its own, ``AccountReady``. There is no
``EventsDropped``: an account must never drop a fill, so it holds its reader back instead.

What is *not* an event of its own, and why:

- a rejection is an ``OrderUpdate`` in state ``rejected`` carrying the venue's ``reason``, so a
  strategy follows one order through one type whatever happened to it;
- an order whose outcome is not known (its reply was lost with the socket) is an ``OrderUpdate``
  in state ``unknown``; the reconciliation that settles it ends in another ``OrderUpdate``.

Order types, shared names and how each venue spells them:

=====================  ==========================  ==============================================
shared                 Kraken v2 ``order_type``    Midchains ``ordertype`` / ``stoptype``
=====================  ==========================  ==============================================
``market``             ``market``                  ``MKT``
``limit``              ``limit``                   ``LMT``
``stop_loss``          ``stop-loss``               ``MKT`` with ``stoptype: STOP``
``stop_loss_limit``    ``stop-loss-limit``         ``LMT`` with ``stoptype: STOP``
``take_profit``        ``take-profit``             (none)
``take_profit_limit``  ``take-profit-limit``       (none)
=====================  ==========================  ==============================================

Times in force: ``gtc``, ``ioc`` and ``fok`` are spelled alike everywhere (Kraken in either case);
``gtd`` is Kraken's ``gtd`` and Midchains' ``GTT``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

import msgspec

from schemas.events import Disconnected, ErrorEvent, Reconnected, Side, Status, _Event, _SymbolEvent

OrderKind = Literal["market", "limit", "stop_loss", "stop_loss_limit", "take_profit", "take_profit_limit"]
"""How an order executes. The market schema's ``OrderType`` (market/limit) is the subset a public
trade reports; trading needs the triggered kinds too."""

LIMIT_PRICED: Final[frozenset[OrderKind]] = frozenset({"limit", "stop_loss_limit", "take_profit_limit"})
"""Kinds that execute at a limit ``price`` (or better), and so can rest on the book."""

TRIGGERED: Final[frozenset[OrderKind]] = frozenset({"stop_loss", "stop_loss_limit", "take_profit", "take_profit_limit"})
"""Kinds that wait for the market to reach ``stop_price`` before they execute."""

TimeInForce = Literal["gtc", "ioc", "fok", "gtd"]
"""Good till cancelled, immediate or cancel, fill or kill, good till ``expire_time``."""

OrderState = Literal[
    "pending_new", "new", "partially_filled", "filled", "canceled", "rejected", "expired", "unknown"
]
"""Where an order stands. ``pending_new``: sent, not yet accepted by the venue. ``unknown``: a
request whose outcome is not known yet (its reply was lost); only reconciliation with the venue
moves it on. ``filled``, ``canceled``, ``rejected`` and ``expired`` are final."""

Liquidity = Literal["maker", "taker"]
"""Whether a fill added liquidity (the order rested on the book) or took it."""


class InvalidOrder(ValueError):
    """An order request that contradicts itself. ``rule`` names the rule it breaks, so a caller
    can tell the refusals apart without parsing the message."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """An order to place, in exchange-agnostic terms; it names no exchange, so one strategy can
    send the same request to any account.

    Constructing one (or decoding one from JSON) refuses a request that contradicts itself, with
    an ``InvalidOrder`` naming the rule: a contradictory order must never reach a venue, which might
    read it in a way the user did not mean. Whether the venue accepts it (precision, minimums, the
    symbol's state) is checked later, against the instrument data.

    Exactly one of ``qty`` (base asset) and ``quote_qty`` (quote asset to spend or receive, market
    orders only) is given. ``price`` is the limit price of a limit-priced kind; ``stop_price`` the
    trigger of a triggered kind. ``expire_time`` (ns) goes with ``gtd`` alone. ``post_only`` orders
    must rest, so they are limit-priced and neither ``ioc`` nor ``fok``. ``reduce_only`` may only
    shrink a position. ``client_order_id`` is the user's own id for the order, echoed in its updates
    and fills. ``validate_only`` asks the venue to check the order and place nothing.
    """

    symbol: str
    side: Side
    order_type: OrderKind
    qty: Decimal | None = None
    quote_qty: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = "gtc"
    expire_time: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: str | None = None
    validate_only: bool = False

    def __post_init__(self) -> None:
        """Refuse the first rule broken, in the order below (each ``raise`` names its rule)."""
        kind, tif = self.order_type, self.time_in_force
        if not self.symbol:
            raise InvalidOrder("symbol_given", "an order needs a symbol")
        if (self.qty is None) == (self.quote_qty is None):
            raise InvalidOrder("one_quantity", "give exactly one of qty (base asset) and quote_qty (quote asset)")
        for name in ("qty", "quote_qty", "price", "stop_price"):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and value > 0):
                raise InvalidOrder("positive_numbers", f"{name} must be finite and above zero, not {value}")
        if self.quote_qty is not None and kind != "market":
            raise InvalidOrder("quote_qty_market_only", f"quote_qty is only defined for market orders, not {kind}")
        if kind in LIMIT_PRICED and self.price is None:
            raise InvalidOrder("limit_needs_price", f"a {kind} order needs a price")
        if kind not in LIMIT_PRICED and self.price is not None:
            raise InvalidOrder("market_takes_no_price", f"a {kind} order executes at the market and takes no price")
        if kind in TRIGGERED and self.stop_price is None:
            raise InvalidOrder("trigger_needs_stop_price", f"a {kind} order needs a stop_price to trigger at")
        if kind not in TRIGGERED and self.stop_price is not None:
            raise InvalidOrder("stop_price_needs_trigger", f"a {kind} order has no trigger to give a stop_price to")
        if tif == "gtd" and self.expire_time is None:
            raise InvalidOrder("gtd_needs_expire_time", "time_in_force gtd needs an expire_time")
        if tif != "gtd" and self.expire_time is not None:
            raise InvalidOrder("expire_time_needs_gtd", f"expire_time only applies to gtd, not {tif}")
        if self.post_only and kind not in LIMIT_PRICED:
            raise InvalidOrder("post_only_needs_limit", f"a post-only order must rest; a {kind} order takes liquidity")
        if self.post_only and tif in ("ioc", "fok"):
            raise InvalidOrder("post_only_rests", f"a post-only order must rest on the book; {tif} never rests")
        if self.client_order_id is not None and not self.client_order_id.strip():
            raise InvalidOrder("client_order_id_not_blank", "client_order_id, when given, must not be blank")


class OrderUpdate(_SymbolEvent, frozen=True, kw_only=True):
    """Where one order stands now: always the whole picture, never a delta.

    Quantities are cumulative (``filled_qty`` is everything filled so far, ``avg_price`` its average
    price) and every field is filled in even where the venue's own message was sparse, so the
    latest update alone is the order's state and a lost or repeated update cannot skew a sum.
    ``venue_order_id`` is the venue's id (None until the venue has assigned one, e.g. in
    ``pending_new`` or ``unknown``); ``client_order_id`` the user's. ``qty`` is the base quantity
    ordered as last amended (None for a ``quote_qty`` order until the venue says), ``price`` and
    ``stop_price`` the current limit and trigger. ``reason`` says why the order moved where the
    venue (or the account, for ``unknown``) gave one, in the venue's own words: the rejection text,
    the cancel reason.
    """

    side: Side
    state: OrderState
    venue_order_id: str | None = None
    client_order_id: str | None = None
    order_type: OrderKind | None = None
    qty: Decimal | None = None
    quote_qty: Decimal | None = None
    filled_qty: Decimal
    avg_price: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reason: str | None = None


class Fill(_SymbolEvent, frozen=True, kw_only=True):
    """One execution of one of the account's orders, delivered exactly once.

    ``fill_id`` is the venue's unique id of this execution (Kraken ``exec_id``), the key fills are
    de-duplicated by across snapshots and reconnects; ``trade_id`` is the public trade it was part
    of, where the venue says. ``qty`` and ``price`` are this execution's own. ``fee`` is what the
    venue charged for it in ``fee_asset`` (zero and None when it charged nothing or did not say).
    """

    fill_id: str
    venue_order_id: str
    client_order_id: str | None = None
    trade_id: str | None = None
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    liquidity: Liquidity | None = None
    order_type: OrderKind | None = None


class Balance(_Event, frozen=True, kw_only=True):
    """How much of one asset the account holds: the figure after the change, never the change.

    ``available`` is what open orders do not hold (None where the venue does not split it out, as
    Kraken's balances stream does not). ``wallet`` names the venue's wallet where it keeps several
    per asset (Kraken ``spot:main``, ``earn:flex``); None for the asset across the whole account.
    """

    asset: str
    total: Decimal
    available: Decimal | None = None
    wallet: str | None = None


class AccountReady(_Event, frozen=True, kw_only=True):
    """The account's private state is rebuilt from the venue after a (re)connect: open orders,
    balances and any fills made while away are delivered, and orders left ``unknown`` are settled
    or reported. Until this event nothing the account shows is trusted as current.

    ``open_orders`` is how many orders the venue reports open.
    """

    open_orders: int


TradingControlEvent = AccountReady | Status | ErrorEvent | Disconnected | Reconnected
TradingEvent = OrderUpdate | Fill | Balance | TradingControlEvent
"""Everything an account yields."""
