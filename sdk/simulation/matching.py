"""A venue-neutral matching engine for simulators' trading side, sans-I/O: requests and time in,
plain records out.

Accounts hold balances per asset (the total, and the part held by open orders). Orders match
against the synthetic market's current book (a taker walks its price levels) and, while they rest,
against later market steps that trade through or cross their price (as makers). A stop order waits,
holding its funds, until the market trades at or through its stop price, then acts as the order it
carries; an order with an expiry time is expired by the first tick at or after it. The market itself
is never changed by these orders: the engine shadows it, so every simulator keeps serving the same
public data whether anyone trades or not. The engine belongs to the simulator, not to a
connection, so orders keep filling while their owner is disconnected.

Each venue's session renders the records into its own wire frames; the engine names no venue.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import MAX_PREC, ROUND_DOWN, Context, Decimal, localcontext
from typing import Literal

from sdk.simulation.market import Instrument, MarketStep, Side, SyntheticMarket

OrderKind = Literal["market", "limit"]
TimeInForce = Literal["gtc", "ioc", "fok"]
Status = Literal["new", "partially_filled", "filled", "canceled", "expired"]
MAKER_FEE = Decimal("0.0016")
TAKER_FEE = Decimal("0.0026")
FEE_PLACES = Decimal("0.00000001")
"""Fees are rounded to 8 decimals, as venues charge whole units of the quote asset's precision."""


class OrderRejected(Exception):
    """The engine refused an order; ``reason`` is one of the venue-neutral codes below, which each
    venue words its own way."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_ORDER = "invalid_order"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    PRICE_OFF_GRID = "price_off_grid"
    QTY_OFF_GRID = "qty_off_grid"
    QTY_BELOW_MINIMUM = "qty_below_minimum"
    COST_BELOW_MINIMUM = "cost_below_minimum"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class OrderSpec:
    """An order as asked for: ``qty`` in the base asset, or (market orders) ``quote_qty``."""

    symbol: str
    side: Side
    kind: OrderKind
    qty: Decimal | None = None
    quote_qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce = "gtc"
    post_only: bool = False
    client_id: str | None = None
    stop_price: Decimal | None = None
    """The order waits until the market trades at or above (buy) or at or below (sell) this price."""
    expire_ns: int | None = None
    """A resting order still open at this time is expired."""


def check_grid(spec: OrderSpec, instrument: Instrument, cost_min: Decimal | None = None) -> None:
    """Raise ``OrderRejected`` for an order off the pair's grid or below its minimums, as a venue
    refuses what its published instrument data rules out: a price not a whole number of ``tick``s,
    a quantity below one ``lot`` or not a whole number of them, a limit order worth less than
    ``cost_min`` in the quote asset. Each venue decides whether to apply it (and words the refusal)."""
    if spec.price is not None and _off(spec.price, instrument.tick):
        raise OrderRejected(OrderRejected.PRICE_OFF_GRID, f"price {spec.price} is not a multiple of {instrument.tick}")
    if spec.qty is not None and spec.qty < instrument.lot:
        raise OrderRejected(OrderRejected.QTY_BELOW_MINIMUM, f"qty {spec.qty} is below {instrument.lot}")
    if spec.qty is not None and _off(spec.qty, instrument.lot):
        raise OrderRejected(OrderRejected.QTY_OFF_GRID, f"qty {spec.qty} is not a multiple of {instrument.lot}")
    if cost_min is not None and spec.qty is not None and spec.price is not None and spec.qty * spec.price < cost_min:
        raise OrderRejected(OrderRejected.COST_BELOW_MINIMUM, f"cost {spec.qty * spec.price} is below {cost_min}")


def _off(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is not a whole number of ``step``s, exactly, however many digits apart."""
    with localcontext(Context(prec=MAX_PREC)):
        return value % step != 0


@dataclass
class Holding:
    """One asset of one account: ``total`` owned, ``held`` reserved by open orders."""

    total: Decimal = Decimal(0)
    held: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.total - self.held


@dataclass
class Order:
    """An order the engine accepted, as it stands now."""

    venue_id: str
    account: str
    spec: OrderSpec
    created_ns: int
    status: Status = "new"
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    """Quote amount traded so far (before fees)."""
    fees: Decimal = Decimal(0)
    held: Decimal = Decimal(0)
    """What this order holds of its account: quote for a buy, base for a sell."""
    reason: str | None = None
    closed_ns: int | None = None
    triggered: bool = True
    """False while a stop order waits for its stop price."""

    @property
    def base(self) -> str:
        return self.spec.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        return self.spec.symbol.partition("/")[2]

    @property
    def open(self) -> bool:
        return self.status in ("new", "partially_filled")

    @property
    def remaining(self) -> Decimal | None:
        return None if self.spec.qty is None else self.spec.qty - self.filled

    @property
    def avg_price(self) -> Decimal:
        return self.cost / self.filled if self.filled else Decimal(0)


@dataclass(frozen=True)
class Fill:
    """One execution of an order."""

    fill_id: str
    trade_id: int
    venue_id: str
    account: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: Literal["maker", "taker"]
    time_ns: int


# -- records: what happened, for the venue's session to render ---------------------------------


@dataclass(frozen=True)
class OrderAccepted:
    order: Order
    time_ns: int


@dataclass(frozen=True)
class OrderFilled:
    order: Order
    fill: Fill


@dataclass(frozen=True)
class OrderAmended:
    order: Order
    time_ns: int


@dataclass(frozen=True)
class OrderClosed:
    """The order left the book: ``order.status`` says filled, canceled or expired."""

    order: Order
    time_ns: int


@dataclass(frozen=True)
class BalanceChanged:
    account: str
    asset: str
    amount: Decimal
    """Signed change before the fee."""
    fee: Decimal
    balance: Decimal
    """The asset's total after the change and the fee."""
    fill_id: str
    time_ns: int


Record = OrderAccepted | OrderFilled | OrderAmended | OrderClosed | BalanceChanged


def record_account(record: Record) -> str:
    """The account a record belongs to."""
    return record.account if isinstance(record, BalanceChanged) else record.order.account


def _stop_reached(spec: OrderSpec, prices: Iterable[Decimal]) -> bool:
    """Whether any of ``prices`` is at or through the stop price of ``spec``."""
    stop = spec.stop_price
    if stop is None:
        return True
    return any(p >= stop if spec.side == "buy" else p <= stop for p in prices if p > 0)


def _snapshot(order: Order) -> Order:
    """A copy frozen at this moment: records must not change when the order later does."""
    return replace(order)


@dataclass
class _Account:
    holdings: dict[str, Holding] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    dead_man_ns: int | None = None

    def holding(self, asset: str) -> Holding:
        return self.holdings.setdefault(asset, Holding())


class MatchingEngine:
    """Accounts, orders and fills over ``market``; ``new_order_id``/``new_fill_id`` make the
    venue's identifiers."""

    def __init__(
        self,
        market: SyntheticMarket,
        *,
        new_order_id: Callable[[], str],
        new_fill_id: Callable[[], str],
        maker_fee: Decimal = MAKER_FEE,
        taker_fee: Decimal = TAKER_FEE,
    ) -> None:
        self.market = market
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self._new_order_id = new_order_id
        self._new_fill_id = new_fill_id
        self._accounts: dict[str, _Account] = {}
        self._orders: dict[str, Order] = {}
        self._trade_ids = itertools.count(1)
        self.fills_held = False
        """While true, fills still happen but their records wait for ``release_fills``."""
        self._held: list[Record] = []
        self._held_orders: set[str] = set()
        self._held_fills: set[str] = set()

    # -- accounts ---------------------------------------------------------------------------

    def open_account(self, account: str, balances: dict[str, Decimal]) -> None:
        state = self._accounts.setdefault(account, _Account())
        for asset, total in balances.items():
            state.holding(asset).total = total

    def holdings(self, account: str) -> dict[str, Holding]:
        return dict(self._account(account).holdings)

    def open_orders(self, account: str) -> list[Order]:
        return [order for order in self._orders.values() if order.account == account and order.open]

    def open_orders_of_all(self) -> list[Order]:
        """Every account's open orders."""
        return [order for order in self._orders.values() if order.open]

    def closed_orders(self, account: str) -> list[Order]:
        return [order for order in self._orders.values() if order.account == account and not order.open]

    def fills(self, account: str, last: int = 50) -> list[Fill]:
        """The account's latest ``last`` fills, oldest first."""
        return self._account(account).fills[-last:]

    def order(self, account: str, *, venue_id: str | None = None, client_id: str | None = None) -> Order:
        """The account's order by venue id, or its open order by client id."""
        found = self._orders.get(venue_id or "")
        if client_id is not None:
            found = next((o for o in self.open_orders(account) if o.spec.client_id == client_id), None)
        if found is None or found.account != account:
            raise OrderRejected(OrderRejected.UNKNOWN_ORDER, venue_id or client_id or "")
        return found

    # -- requests ---------------------------------------------------------------------------

    def check(self, account: str, specs: Iterable[OrderSpec]) -> None:
        """Raise ``OrderRejected`` unless every spec could be placed together, changing nothing."""
        spending: dict[str, Decimal] = {}
        clients = {o.spec.client_id for o in self.open_orders(account)}
        for spec in specs:
            self._check_spec(spec)
            if spec.client_id is not None:
                if spec.client_id in clients:
                    raise OrderRejected(OrderRejected.DUPLICATE_CLIENT_ID, spec.client_id)
                clients.add(spec.client_id)
            if spec.post_only and self._takes(spec):
                raise OrderRejected(OrderRejected.POST_ONLY_WOULD_TAKE, spec.symbol)
            asset, amount = self._cost(spec)
            spending[asset] = spending.get(asset, Decimal(0)) + amount
            if spending[asset] > self._account(account).holding(asset).available:
                raise OrderRejected(OrderRejected.INSUFFICIENT_FUNDS, asset)

    def place(self, account: str, spec: OrderSpec, now_ns: int) -> tuple[Order, list[Record]]:
        """Accept ``spec``, take what it can from the book, rest or end the rest."""
        self.check(account, [spec])
        if spec.expire_ns is not None and spec.expire_ns <= now_ns:
            raise OrderRejected(OrderRejected.INVALID_ORDER, "expiry time already past")
        order = Order(self._new_order_id(), account, spec, now_ns)
        self._orders[order.venue_id] = order
        records: list[Record] = [OrderAccepted(_snapshot(order), now_ns)]
        last = self.market.state(spec.symbol).last_price
        if spec.stop_price is not None and not _stop_reached(spec, [last]):
            order.triggered = False
            self._hold(order)
            return order, self._emit(records)
        records += self._activate(order, now_ns)
        return order, self._emit(records)

    def _activate(self, order: Order, now_ns: int) -> list[Record]:
        """Take what the order can from the book, then rest or end the rest as its kind says."""
        spec = order.spec
        if spec.time_in_force == "fok" and not self._fills_entirely(spec):
            return self._close(order, "expired", "fill or kill not fillable", now_ns)
        self._hold(order)
        records = self._take(order, now_ns)
        if order.open and spec.quote_qty is not None and order.filled:
            records += self._close(order, "filled", None, now_ns)  # spent all a whole lot could buy
        elif order.open and (spec.kind == "market" or spec.time_in_force != "gtc"):
            records += self._close(order, "canceled", "immediate or cancel", now_ns)
        return records

    def amend(
        self, order: Order, now_ns: int, *, qty: Decimal | None = None, price: Decimal | None = None
    ) -> list[Record]:
        """Change an open limit order in place; a quantity at or below what is filled ends it."""
        if not order.open or order.spec.kind != "limit":
            raise OrderRejected(OrderRejected.UNKNOWN_ORDER, order.venue_id)
        if (qty is not None and qty <= 0) or (price is not None and price <= 0):
            raise OrderRejected(OrderRejected.INVALID_ORDER, "quantity and price must be positive")
        amended = replace(order.spec, qty=qty if qty is not None else order.spec.qty, price=price or order.spec.price)
        if amended.post_only and self._takes(amended):
            raise OrderRejected(OrderRejected.POST_ONLY_WOULD_TAKE, order.spec.symbol)
        if amended.qty is not None and amended.qty <= order.filled:
            order.spec = replace(amended, qty=order.filled)
            return self._emit(self._close(order, "filled" if order.filled else "canceled", "amended", now_ns))
        before = order.spec
        order.spec = amended
        self._hold(order)
        if self._holding(order).available < 0:
            order.spec = before
            self._hold(order)
            raise OrderRejected(OrderRejected.INSUFFICIENT_FUNDS, "amend")
        records: list[Record] = [OrderAmended(_snapshot(order), now_ns)]
        records += self._take(order, now_ns)
        return self._emit(records)

    def cancel(self, order: Order, now_ns: int, reason: str = "User requested") -> list[Record]:
        if not order.open:
            raise OrderRejected(OrderRejected.UNKNOWN_ORDER, order.venue_id)
        return self._emit(self._close(order, "canceled", reason, now_ns))

    def cancel_all(self, account: str, now_ns: int, reason: str = "User requested") -> list[Record]:
        records: list[Record] = []
        for order in self.open_orders(account):
            records += self._close(order, "canceled", reason, now_ns)
        return self._emit(records)

    def arm_dead_man(self, account: str, timeout_ns: int, now_ns: int) -> int | None:
        """Cancel every order of ``account`` unless re-armed within ``timeout_ns`` (0 disarms);
        returns the trigger time, or None when disarmed."""
        trigger = now_ns + timeout_ns if timeout_ns > 0 else None
        self._account(account).dead_man_ns = trigger
        return trigger

    # -- time and the market ----------------------------------------------------------------

    def tick(self, steps: list[MarketStep], now_ns: int) -> list[Record]:
        """Fire due dead man's switches, expire due orders, trigger stops the step reached, then
        fill resting orders the step traded through."""
        records: list[Record] = []
        for account, state in self._accounts.items():
            if state.dead_man_ns is not None and now_ns >= state.dead_man_ns:
                state.dead_man_ns = None
                records += self.cancel_all(account, now_ns, "Dead man's switch")
        for order in self.open_orders_of_all():
            if order.spec.expire_ns is not None and now_ns >= order.spec.expire_ns:
                records += self._emit(self._close(order, "expired", "expiry time reached", now_ns))
        for step in steps:
            prices = [t.price for t in step.trades]
            for order in [o for o in self._orders.values() if o.open and o.spec.symbol == step.symbol]:
                if order.triggered:
                    records += self._emit(self._rest_fills(order, step, now_ns))
                elif _stop_reached(order.spec, prices):
                    order.triggered = True
                    records += self._emit(self._activate(order, now_ns))
        return records

    def force_fill(self, order: Order, qty: Decimal, price: Decimal, now_ns: int) -> list[Record]:
        """Fill ``qty`` of an open order at ``price`` as a maker, whatever the market does."""
        remaining = order.remaining
        if not order.open or qty <= 0 or (remaining is not None and qty > remaining):
            raise OrderRejected(OrderRejected.INVALID_ORDER, f"cannot fill {qty} of {order.venue_id}")
        return self._emit(self._fill(order, qty, price, "maker", now_ns))

    def hold_fills(self) -> None:
        self.fills_held = True

    def release_fills(self) -> list[Record]:
        """Stop holding fills; returns every record held back, in order."""
        self.fills_held = False
        released, self._held = self._held, []
        self._held_orders.clear()
        self._held_fills.clear()
        return released

    # -- matching ---------------------------------------------------------------------------

    def _check_spec(self, spec: OrderSpec) -> None:
        if spec.symbol not in self.market.states:
            raise OrderRejected(OrderRejected.UNKNOWN_SYMBOL, spec.symbol)
        if (spec.qty is None) == (spec.quote_qty is None):
            raise OrderRejected(OrderRejected.INVALID_ORDER, "give exactly one of qty and quote_qty")
        if (spec.qty or spec.quote_qty or 0) <= 0:
            raise OrderRejected(OrderRejected.INVALID_ORDER, "quantity must be positive")
        if spec.kind == "limit" and (spec.price is None or spec.price <= 0 or spec.quote_qty is not None):
            raise OrderRejected(OrderRejected.INVALID_ORDER, "a limit order needs a positive price and qty")
        if spec.kind == "market" and (spec.price is not None or spec.post_only):
            raise OrderRejected(OrderRejected.INVALID_ORDER, "a market order has no price and cannot be post-only")
        if spec.stop_price is not None and (spec.stop_price <= 0 or spec.post_only):
            raise OrderRejected(OrderRejected.INVALID_ORDER, "a stop needs a positive price and cannot be post-only")

    def _levels(self, spec: OrderSpec) -> list[tuple[Decimal, Decimal]]:
        """The opposite side's levels ``spec`` may take, best first."""
        state = self.market.state(spec.symbol)
        book = state.asks if spec.side == "buy" else state.bids
        levels = book.top(len(book))
        if spec.price is None:
            return levels
        limit = spec.price
        return [(p, q) for p, q in levels if (p <= limit if spec.side == "buy" else p >= limit)]

    def _takes(self, spec: OrderSpec) -> bool:
        return bool(self._levels(spec))

    def _walk(self, spec: OrderSpec, qty: Decimal | None, quote_qty: Decimal | None) -> list[tuple[Decimal, Decimal]]:
        """(price, qty) fills a taker gets for ``qty`` base or ``quote_qty`` quote."""
        lot = self.market.state(spec.symbol).instrument.lot
        fills = []
        for price, available in self._levels(spec):
            if qty is not None:
                take = min(available, qty)
                qty -= take
            else:
                assert quote_qty is not None
                take = min(available, (quote_qty / price).quantize(lot, ROUND_DOWN))
                quote_qty -= take * price
            if take <= 0:
                break
            fills.append((price, take))
            if qty == 0:
                break
        return fills

    def _fills_entirely(self, spec: OrderSpec) -> bool:
        taken = sum((q for _, q in self._walk(spec, spec.qty, spec.quote_qty)), Decimal(0))
        return spec.qty is not None and taken == spec.qty

    def _cost(self, spec: OrderSpec) -> tuple[str, Decimal]:
        """The asset and the most of it ``spec`` can spend, fees included."""
        base, _, quote = spec.symbol.partition("/")
        if spec.side == "sell":
            if spec.qty is not None:
                return base, spec.qty
            return base, sum((q for _, q in self._walk(spec, None, spec.quote_qty)), Decimal(0))
        if spec.quote_qty is not None:
            return quote, spec.quote_qty * (1 + self.taker_fee)
        assert spec.qty is not None
        if spec.price is not None:
            return quote, spec.qty * spec.price * (1 + self.taker_fee)
        notional = sum((p * q for p, q in self._walk(spec, spec.qty, None)), Decimal(0))
        return quote, notional * (1 + self.taker_fee)

    def _holding(self, order: Order) -> Holding:
        account = self._account(order.account)
        return account.holding(order.quote if order.spec.side == "buy" else order.base)

    def _hold(self, order: Order) -> None:
        """Reserve what the rest of the order can still spend."""
        self._release(order)
        spec = order.spec if order.spec.kind == "market" else replace(order.spec, qty=order.remaining)
        _, amount = self._cost(spec)
        order.held = amount
        self._holding(order).held += amount

    def _release(self, order: Order) -> None:
        self._holding(order).held -= order.held
        order.held = Decimal(0)

    def _take(self, order: Order, now_ns: int) -> list[Record]:
        quote_left = None
        if order.spec.quote_qty is not None:
            quote_left = order.spec.quote_qty - order.cost
        records: list[Record] = []
        for price, qty in self._walk(order.spec, order.remaining, quote_left):
            records += self._fill(order, qty, price, "taker", now_ns)
        return records

    def _rest_fills(self, order: Order, step: MarketStep, now_ns: int) -> list[Record]:
        """A resting limit order fills at its price against trades strictly through it (a trade at
        its price took the queue ahead of it) and against a book that moved across it."""
        limit = order.spec.price
        remaining = order.remaining
        if limit is None or remaining is None:
            return []
        buying = order.spec.side == "buy"
        through = sum(
            (
                t.qty
                for t in step.trades
                if t.side != order.spec.side and (t.price < limit if buying else t.price > limit)
            ),
            Decimal(0),
        )
        crossing = sum((q for _, q in self._levels(order.spec)), Decimal(0))
        qty = min(remaining, max(through, crossing))
        return self._fill(order, qty, limit, "maker", now_ns) if qty > 0 else []

    def _fill(
        self, order: Order, qty: Decimal, price: Decimal, liquidity: Literal["maker", "taker"], now_ns: int
    ) -> list[Record]:
        account = self._account(order.account)
        rate = self.maker_fee if liquidity == "maker" else self.taker_fee
        notional = qty * price
        fee = (notional * rate).quantize(FEE_PLACES)
        fill = Fill(
            fill_id=self._new_fill_id(),
            trade_id=next(self._trade_ids),
            venue_id=order.venue_id,
            account=order.account,
            symbol=order.spec.symbol,
            side=order.spec.side,
            qty=qty,
            price=price,
            fee=fee,
            fee_asset=order.quote,
            liquidity=liquidity,
            time_ns=now_ns,
        )
        self._release(order)
        order.filled += qty
        order.cost += notional
        order.fees += fee
        base, quote = account.holding(order.base), account.holding(order.quote)
        sign = 1 if order.spec.side == "buy" else -1
        base.total += sign * qty
        quote.total -= sign * notional + fee
        account.fills.append(fill)
        records: list[Record] = [
            OrderFilled(_snapshot(order), fill),
            BalanceChanged(order.account, order.base, sign * qty, Decimal(0), base.total, fill.fill_id, now_ns),
            BalanceChanged(order.account, order.quote, -sign * notional, fee, quote.total, fill.fill_id, now_ns),
        ]
        done = order.remaining == 0 or (order.spec.quote_qty is not None and order.cost >= order.spec.quote_qty)
        if done:
            records += self._close(order, "filled", None, now_ns)
        else:
            order.status = "partially_filled"
            if order.spec.kind == "limit":
                self._hold(order)
        return records

    def _close(self, order: Order, status: Status, reason: str | None, now_ns: int) -> list[Record]:
        self._release(order)
        order.status, order.reason, order.closed_ns = status, reason, now_ns
        return [OrderClosed(_snapshot(order), now_ns)]

    def _emit(self, records: list[Record]) -> list[Record]:
        """``records``, less those held back: every fill while fills are held, and every later
        record of an order with a held fill (so the order's story keeps its order)."""
        if not self.fills_held and not self._held_orders:
            return records
        out: list[Record] = []
        for record in records:
            if isinstance(record, BalanceChanged):
                held = record.fill_id in self._held_fills
            else:
                if isinstance(record, OrderFilled) and self.fills_held:
                    self._held_orders.add(record.order.venue_id)
                held = record.order.venue_id in self._held_orders
                if held and isinstance(record, OrderFilled):
                    self._held_fills.add(record.fill.fill_id)
            (self._held if held else out).append(record)
        return out

    def _account(self, account: str) -> _Account:
        return self._accounts.setdefault(account, _Account())
