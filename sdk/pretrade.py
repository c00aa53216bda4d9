"""The pre-trade check: refuse, before anything is sent, an order the instrument data says the venue
will reject, so a strategy learns of it at once and in the same terms on every venue, and the venue's
trading rate counter is not charged for a certain rejection.

The rules, in the order they are checked (each refusal's ``rule``):

- ``symbol_unknown``: there is no instrument data for the symbol;
- ``symbol_not_tradable``: the pair's status refuses this order (see ``STATUS_ALLOWS``);
- ``price_precision``: ``price`` or ``stop_price`` has more decimals than the pair's price precision,
  or is not a multiple of its price increment;
- ``qty_precision``: ``qty`` has more decimals than the quantity precision, or is not a multiple of
  the quantity increment;
- ``qty_min``: ``qty`` is below the pair's minimum;
- ``cost_min``: the order's value in the quote asset is below the pair's minimum: ``qty * price`` for
  a limit-priced kind, ``quote_qty`` for a market order by quote quantity, ``qty * reference_price``
  for an order executed at the market when a reference price is given (not checked without one).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import MAX_PREC, Context, Decimal, localcontext
from typing import Final

from schemas.events import Instrument
from schemas.trading import LIMIT_PRICED, OrderRequest
from sdk.errors import PreTradeRefused

STATUS_ALLOWS: Final[dict[str, Callable[[OrderRequest], bool]]] = {
    "online": lambda order: True,
    "post_only": lambda order: order.post_only,
    "limit_only": lambda order: order.order_type in LIMIT_PRICED,
    "reduce_only": lambda order: order.reduce_only,
    "cancel_only": lambda order: False,
    "maintenance": lambda order: False,
    "delisted": lambda order: False,
    "work_in_progress": lambda order: False,
}
"""Which new orders each pair status lets through (Kraken v2's statuses). A status not listed is
refused: an order the venue's state is not known to allow is not worth the risk of sending."""


def check_order(order: OrderRequest, instrument: Instrument | None, *, reference_price: Decimal | None = None) -> None:
    """Raise ``PreTradeRefused`` if ``instrument`` (the order's pair) says the venue will reject
    ``order``. ``reference_price`` (a recent trade or mid price) lets the minimum cost of an order
    executed at the market be checked."""
    if instrument is None:
        raise PreTradeRefused("symbol_unknown", order.symbol, "no instrument data for the symbol")
    if instrument.symbol != order.symbol:
        raise ValueError(f"the instrument data given is {instrument.symbol}'s, not {order.symbol}'s")
    allows = STATUS_ALLOWS.get(instrument.status)
    if allows is None or not allows(order):
        raise PreTradeRefused(
            "symbol_not_tradable", order.symbol, f"a {_describe(order)} order while the pair is {instrument.status}"
        )
    for name, price in (("price", order.price), ("stop_price", order.stop_price)):
        off_grid = _off_grid(name, price, instrument.price_precision, instrument.price_increment)
        if off_grid:
            raise PreTradeRefused("price_precision", order.symbol, off_grid)
    off_grid = _off_grid("qty", order.qty, instrument.qty_precision, instrument.qty_increment)
    if off_grid:
        raise PreTradeRefused("qty_precision", order.symbol, off_grid)
    if order.qty is not None and instrument.qty_min is not None and order.qty < instrument.qty_min:
        raise PreTradeRefused("qty_min", order.symbol, f"qty {order.qty} is below the minimum {instrument.qty_min}")
    cost = _cost(order, reference_price)
    if cost is not None and instrument.cost_min is not None and cost < instrument.cost_min:
        detail = f"the order's cost {cost} {instrument.quote} is below the minimum {instrument.cost_min}"
        raise PreTradeRefused("cost_min", order.symbol, detail)


def _describe(order: OrderRequest) -> str:
    """The order's kind with the flags a pair status may ask for, as in "post-only limit"."""
    flags = [flag for flag, on in (("post-only", order.post_only), ("reduce-only", order.reduce_only)) if on]
    return " ".join([*flags, order.order_type])


def _off_grid(name: str, value: Decimal | None, places: int, increment: Decimal | None) -> str | None:
    """Why ``value`` is off the pair's grid (more than ``places`` decimals, not a multiple of
    ``increment``), or None when it is on it or not given."""
    if value is None:
        return None
    decimals = _decimals(value)
    if decimals > places:
        return f"{name} {value} has {decimals} decimals; at most {places} are allowed"
    if increment is not None and not _multiple_of(value, increment):
        return f"{name} {value} is not a multiple of the increment {increment}"
    return None


def _multiple_of(value: Decimal, increment: Decimal) -> bool:
    """Whether ``value`` is a whole number of ``increment``s, exactly, however many digits apart."""
    with localcontext(Context(prec=MAX_PREC)):
        return value % increment == 0


def _decimals(value: Decimal) -> int:
    """Decimal places of a finite ``value``, trailing zeros not counted (``1.50`` has one)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int), "orders carry finite numbers only"
    return max(0, -exponent)


def _cost(order: OrderRequest, reference_price: Decimal | None) -> Decimal | None:
    """The order's value in the quote asset, or None where it cannot be known before execution."""
    if order.quote_qty is not None:
        return order.quote_qty
    assert order.qty is not None, "an order has exactly one of qty and quote_qty"
    if order.order_type in LIMIT_PRICED:
        assert order.price is not None, "a limit-priced order has a price"
        return order.qty * order.price
    return None if reference_price is None else order.qty * reference_price
