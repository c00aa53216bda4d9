"""The trading half of the adapter author's kit: hypothesis strategies for the trading schema, the
hooks a trading simulator offers, and the trading conformance suite.

An adapter that trades gets the whole suite with a few lines::

    from sdk.testing import TradingConformance

    class TestMyExchangeTradingConformance(TradingConformance):
        adapter_name = "myexchange"
        symbol = "BTC/USD"          # a symbol its simulator trades

Each check runs a real ``Account`` against the adapter's own simulator on loopback, on asyncio and
trio, and names the rule it enforces when it fails: every order state reachable, replies matched
to their requests, fills delivered exactly once across a reconnect, an order whose reply was lost
never sent again, no secret in anything the account shows, and a pre-trade check that agrees with
the venue. The simulator must offer the ``TradingVenue`` hooks. An adapter without ``trading`` is
skipped. Import it from ``sdk.testing``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import ClassVar, TypeVar, cast, get_args

import anyio
import msgspec
import pytest
from hypothesis import strategies as st

from schemas.events import Disconnected, Instrument, Reconnected, Side
from schemas.trading import (
    LIMIT_PRICED,
    TRIGGERED,
    AccountReady,
    Balance,
    Fill,
    OrderKind,
    OrderRequest,
    OrderState,
    OrderUpdate,
    TimeInForce,
)
from sdk import registry
from sdk.account import Account
from sdk.account_session import AccountEvent
from sdk.contract import Adapter
from sdk.errors import PreTradeRefused, RequestRejected
from sdk.orders import FINAL, TRANSITIONS
from sdk.pretrade import check_order
from sdk.reconnect import ReconnectPolicy
from sdk.simulation.venue import VENUE_HOOKS, TradingVenue
from sdk.testing import ASSETS, _collect, collect_for, of, symbols, wire_decimals

T = TypeVar("T")

REJECTION = "refused by the trading conformance suite"
"""The text the suite makes the venue refuse an order with (``TradingVenue.reject_orders``)."""
FAST_RECONNECT = ReconnectPolicy(initial=0.05, cap=0.2)
SETTLE = 0.3
"""Seconds to wait for what must not come (a repeated fill, a re-sent order) before checking."""


# -- strategies -------------------------------------------------------------------------------


def price_step(instrument: Instrument) -> Decimal:
    """The pair's price grid: its increment, else one unit of its last decimal place."""
    return instrument.price_increment or Decimal(1).scaleb(-instrument.price_precision)


def qty_step(instrument: Instrument) -> Decimal:
    """The pair's quantity grid: its increment, else one unit of its last decimal place."""
    return instrument.qty_increment or Decimal(1).scaleb(-instrument.qty_precision)


def smallest_qty(instrument: Instrument, price: Decimal | None) -> Decimal:
    """The least quantity on the grid the pre-trade check passes, priced at ``price`` for the cost
    minimum (None: the cost is not known before execution and not checked)."""
    step = qty_step(instrument)
    least = max(instrument.qty_min or step, step)
    if price is not None and instrument.cost_min is not None:
        least = max(least, instrument.cost_min / price)
    return (least / step).to_integral_value(ROUND_CEILING) * step


@st.composite
def instrument_orders(draw: st.DrawFn, instrument: Instrument, reference_price: Decimal | None = None) -> OrderRequest:
    """Orders the pre-trade check passes for an online ``instrument``: every kind and time in
    force, prices and quantities on its grid, at or above its minimums. ``reference_price`` is
    what an order executed at the market is valued at (its cost minimum is met there too)."""
    kind: OrderKind = draw(st.sampled_from(get_args(OrderKind)))
    time_in_force: TimeInForce = draw(st.sampled_from(get_args(TimeInForce)))
    tick = price_step(instrument)
    on_grid = st.integers(1, 10**7).map(lambda ticks: ticks * tick)
    price = draw(on_grid) if kind in LIMIT_PRICED else None
    basis = price if kind in LIMIT_PRICED else reference_price
    by_quote = kind == "market" and draw(st.booleans())
    least = smallest_qty(instrument, basis)
    qty = None if by_quote else least * draw(st.integers(1, 1000))
    cost_min = instrument.cost_min or tick
    quote_qty = (cost_min + draw(st.integers(0, 10**6)) * tick) if by_quote else None
    return OrderRequest(
        symbol=instrument.symbol,
        side=draw(st.sampled_from(("buy", "sell"))),
        order_type=kind,
        qty=qty,
        quote_qty=quote_qty,
        price=price,
        stop_price=draw(on_grid) if kind in TRIGGERED else None,
        time_in_force=time_in_force,
        expire_time=draw(st.integers(1, 2**62)) if time_in_force == "gtd" else None,
        post_only=kind in LIMIT_PRICED and time_in_force in ("gtc", "gtd") and draw(st.booleans()),
        reduce_only=draw(st.booleans()),
        client_order_id=draw(st.none() | st.uuids().map(lambda uuid: uuid.hex)),
    )


@st.composite
def order_lifecycles(
    draw: st.DrawFn, symbol: st.SearchStrategy[str] | None = None, max_updates: int = 8
) -> list[OrderUpdate]:
    """The updates of one order, in an order ``sdk.orders.TRANSITIONS`` allows: ids kept once
    given, ``filled_qty`` never falling nor passing ``qty``, ``filled`` only when all is filled,
    and a final state only repeated."""
    name = draw(symbol or symbols())
    side: Side = draw(st.sampled_from(("buy", "sell")))
    lots = draw(st.integers(1, 1000))
    lot = draw(st.sampled_from((Decimal("0.0001"), Decimal("0.01"), Decimal(1))))
    price = draw(st.integers(1, 10**6)) * Decimal("0.1")
    client_id = draw(st.none() | st.uuids().map(lambda uuid: uuid.hex))
    venue_id: str | None = None
    state: OrderState | None = None
    filled = 0
    updates: list[OrderUpdate] = []
    for _ in range(draw(st.integers(1, max_updates))):
        options = sorted(TRANSITIONS[state])
        if filled + 1 >= lots:  # no room for a partial fill short of the whole
            options = [option for option in options if option != "partially_filled"] or options
        now: OrderState = draw(st.sampled_from(options))
        state = now
        if state == "filled":
            filled = lots
        elif state == "partially_filled":
            filled = draw(st.integers(filled + 1, lots - 1))
        if state not in ("pending_new", "unknown", "rejected") and venue_id is None:
            venue_id = draw(st.uuids()).hex
        updates.append(
            OrderUpdate(
                exchange="conformance",
                symbol=name,
                side=side,
                state=now,
                venue_order_id=None if state in ("pending_new", "unknown") else venue_id,
                client_order_id=client_id,
                order_type="limit",
                qty=lots * lot,
                filled_qty=filled * lot,
                avg_price=price if filled else None,
                price=price,
                ts_received=len(updates) + 1,
            )
        )
    return updates


@st.composite
def fills(draw: st.DrawFn, symbol: st.SearchStrategy[str] | None = None, venue_order_id: str | None = None) -> Fill:
    """One execution of one order: its own positive quantity and price, a fee never negative."""
    positive = wire_decimals().filter(lambda value: value > 0)
    return Fill(
        exchange="conformance",
        symbol=draw(symbol or symbols()),
        fill_id=draw(st.uuids()).hex,
        venue_order_id=venue_order_id or draw(st.uuids()).hex,
        client_order_id=draw(st.none() | st.uuids().map(lambda uuid: uuid.hex)),
        trade_id=draw(st.none() | st.integers(1, 2**62).map(str)),
        side=draw(st.sampled_from(("buy", "sell"))),
        qty=draw(positive),
        price=draw(positive),
        fee=draw(wire_decimals()),
        fee_asset=draw(st.none() | st.sampled_from(ASSETS)),
        liquidity=draw(st.none() | st.sampled_from(("maker", "taker"))),
        order_type=draw(st.none() | st.sampled_from(get_args(OrderKind))),
        ts_received=draw(st.integers(0, 2**62)),
    )


@st.composite
def balances(draw: st.DrawFn, assets: Sequence[str] = ASSETS) -> Balance:
    """One asset's holding: a total never negative, of which ``available`` (where given) is part."""
    total = draw(wire_decimals())
    available = draw(st.none() | st.integers(0, 100).map(lambda percent: total * percent / 100))
    return Balance(
        exchange="conformance",
        asset=draw(st.sampled_from(assets)),
        total=total,
        available=available,
        wallet=draw(st.none() | st.sampled_from(("spot:main", "earn:flex"))),
        ts_received=draw(st.integers(0, 2**62)),
    )


# -- the suite --------------------------------------------------------------------------------


def _updates(events: Sequence[object], client_order_id: str, *states: OrderState) -> list[OrderUpdate]:
    return [e for e in of(OrderUpdate, events) if e.client_order_id == client_order_id and e.state in states]


def _settled(client_order_id: str) -> Callable[[list[AccountEvent]], bool]:
    """Whether the order in doubt has settled and the account is ready again after the reconnect."""

    def done(events: list[AccountEvent]) -> bool:
        reconnected = [n for n, e in enumerate(events) if isinstance(e, Reconnected)]
        ready = [n for n, e in enumerate(events) if isinstance(e, AccountReady)]
        settled = [u for u in of(OrderUpdate, events) if u.client_order_id == client_order_id and u.state != "unknown"]
        return bool(settled and reconnected and ready and ready[-1] > reconnected[0])

    return done


class _Shown(logging.Handler):
    """Every log line of the client side (the venue's own server log is the venue's to see)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("websockets.server"):
            self.lines += [record.getMessage(), repr(record.args)]
            if record.exc_info and record.exc_info[1] is not None:
                self.lines.append(str(record.exc_info[1]))


@asynccontextmanager
async def _logs_shown() -> AsyncIterator[_Shown]:
    root, shown = logging.getLogger(), _Shown()
    level = root.level
    root.addHandler(shown)
    root.setLevel(logging.DEBUG)
    try:
        yield shown
    finally:
        root.removeHandler(shown)
        root.setLevel(level)


def _redacted(text: str, secret: str) -> str:
    """Where ``secret`` shows in ``text``, with the secret itself blanked (failure messages are shown)."""
    at = text.index(secret)
    return text[max(0, at - 120) : at + len(secret) + 60].replace(secret, "<the secret>")


class TradingConformance:
    """Tests every trading adapter must pass; subclass it (as ``Test...``) and set the class attributes.

    Each check opens the adapter's simulator (which must offer ``TradingVenue``) and an ``Account``
    on it, and runs once on asyncio and once on trio.
    """

    adapter_name: ClassVar[str]
    symbol: ClassVar[str]
    """A symbol the adapter's simulator trades."""
    tick_interval: ClassVar[float] = 0.01
    """Seconds between the simulator's market steps."""
    away: ClassVar[float] = 0.5
    """Seconds the account stays disconnected in the check of fills made while away."""
    timeout: ClassVar[float] = 5.0
    """Seconds any one awaited outcome may take (the account's reply and readiness timeouts too)."""
    check_budget: ClassVar[float] = 60.0
    """Seconds one check may take in all; past it the check fails, naming the step it was at
    (well inside a test runner's own timeout, which would name nothing)."""

    @pytest.fixture(params=["asyncio", "trio"])
    def backend(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @property
    def adapter(self) -> Adapter:
        """The adapter under test: the registered one named ``adapter_name``; skipped if it does not trade."""
        adapter = registry.get(self.adapter_name)
        if adapter.trading is None:
            pytest.skip(f"{adapter.name} does not trade (market data only)")
        return adapter

    # -- the checks -------------------------------------------------------------------------

    def test_every_order_state_is_reachable(self, backend: str) -> None:
        """new, partially_filled, filled, canceled, rejected with the venue's text, and unknown
        after a lost reply, then settled by the venue's records."""
        anyio.run(self._bounded, self._every_state, backend=backend)

    def test_replies_are_correlated(self, backend: str) -> None:
        """Concurrent placements each settle with their own order, one refused among them."""
        anyio.run(self._bounded, self._correlation, backend=backend)

    def test_fills_arrive_exactly_once_across_a_reconnect(self, backend: str) -> None:
        """A fill made while the account was away arrives once; fills seen before do not again."""
        anyio.run(self._bounded, self._fills_once, backend=backend)

    def test_an_order_whose_reply_was_lost_is_never_sent_again(self, backend: str) -> None:
        """After a lost reply and the reconnect, the venue received the order exactly once."""
        anyio.run(self._bounded, self._never_resent, backend=backend)

    def test_no_secret_is_ever_shown(self, backend: str) -> None:
        """Key, secret and every token the venue issued: never in events, reprs, log lines or errors."""
        anyio.run(self._bounded, self._no_secret_shown, backend=backend)

    def test_pre_trade_checks_agree_with_the_venue(self, backend: str) -> None:
        """The smallest order the check passes is accepted; each it refuses, the venue refuses too."""
        anyio.run(self._bounded, self._pre_trade_agreement, backend=backend)

    # -- how the checks run -----------------------------------------------------------------

    _step: str = "opening the venue and the account"

    async def _bounded(self, check: Callable[[], Awaitable[None]]) -> None:
        """Run ``check`` within ``check_budget`` seconds, or fail naming the step it was at."""
        self._step = "opening the venue and the account"
        with anyio.move_on_after(self.check_budget) as budget:
            await check()
        if budget.cancelled_caught:
            raise AssertionError(
                f"{self.adapter.name}: the check did not finish within {self.check_budget:g} s; "
                f"the last step begun was {self._step}"
            )

    async def settle(self, what: str, request: Awaitable[T]) -> T:
        """The outcome of ``request`` (a placement, a cancel), or a failure naming ``what``: a request
        settles by its reply, or by its reply timeout (``timeout``) dropping the socket, never later."""
        self._step = what
        patience = 2 * self.timeout
        with anyio.move_on_after(patience):
            return await request
        raise AssertionError(
            f"{self.adapter.name}: {what} did not settle within {patience:g} s: a request settles by its reply, "
            "or as unknown (a placement) or OutcomeUnknown when its reply timeout drops the socket"
        )

    async def place(self, account: Account, order: OrderRequest) -> OrderUpdate:
        return await self.settle(f"placing {order.client_order_id}", account.place(order))

    def venue(self) -> TradingVenue:
        """The adapter's simulator, checked for the hooks the suite needs."""
        simulator = self.adapter.make_simulator(tick_interval=self.tick_interval)
        missing = [hook for hook in VENUE_HOOKS if not hasattr(simulator, hook)]
        assert not missing, (
            f"{self.adapter.name}: its simulator lacks the trading hooks {missing}: a trading simulator offers "
            "sdk.testing.TradingVenue (fault switches with the same meaning on every venue)"
        )
        return cast(TradingVenue, simulator)

    def account(self, venue: TradingVenue, reconnect: ReconnectPolicy = FAST_RECONNECT) -> Account:
        return Account(
            self.adapter,
            venue.credentials,
            venue.auth_url,
            venue.rest_url,
            reconnect=reconnect,
            reply_timeout=self.timeout,
            ready_timeout=self.timeout,
            lookup_retry=0.2,
        )

    def resting(
        self,
        account: Account,
        venue: TradingVenue,
        client_order_id: str,
        *,
        side: str = "buy",
        ticks: int = 300,
        lots: int = 4,
    ) -> OrderRequest:
        """A limit order ``ticks`` behind the touch (it rests), ``lots`` times the smallest quantity."""
        instrument = account.instruments[self.symbol]
        state = venue.market.state(self.symbol)
        best = state.bids.best() if side == "buy" else state.asks.best()
        assert best is not None, f"{self.adapter.name}: the simulator's {self.symbol} book is empty"
        tick = price_step(instrument)
        touch = (best / tick).to_integral_value(ROUND_FLOOR if side == "buy" else ROUND_CEILING) * tick
        price = touch - ticks * tick if side == "buy" else touch + ticks * tick
        return OrderRequest(
            symbol=self.symbol,
            side=side,  # type: ignore[arg-type]
            order_type="limit",
            qty=smallest_qty(instrument, price) * lots,
            price=price,
            client_order_id=client_order_id,
        )

    async def events(self, account: Account, done: Callable[[list[AccountEvent]], bool]) -> list[AccountEvent]:
        """Events until ``done(events)`` holds, or ``timeout`` seconds (the check then says what is missing)."""
        self._step = "waiting for the account's events"
        return await _collect(account, done, self.timeout)

    # -- the checks' bodies -----------------------------------------------------------------

    async def _every_state(self) -> None:
        name = self.adapter.name
        async with self.venue() as venue, self.account(venue) as account:
            order = self.resting(account, venue, "conformance-fills")
            placed = await self.place(account, order)
            accepted = placed.state in ("pending_new", "new") and bool(placed.venue_order_id)
            assert accepted, (
                f"{name}: a resting order settled as {placed.state} (venue id {placed.venue_order_id!r}): the "
                "placement's reply must carry the venue's id (Answer.updates: pending_new or later)"
            )
            venue_id, price, qty = placed.venue_order_id or "", order.price or Decimal(0), order.qty or Decimal(0)
            seen = await self.events(account, lambda es: bool(_updates(es, "conformance-fills", "new")))
            assert _updates(seen, "conformance-fills", "new"), f"{name}: no OrderUpdate in state new, resting"
            venue.force_fill(venue_id, qty / 2, price)
            seen = await self.events(
                account, lambda es: bool(_updates(es, "conformance-fills", "partially_filled") and of(Fill, es))
            )
            assert _updates(seen, "conformance-fills", "partially_filled"), (
                f"{name}: half an order filled and no OrderUpdate said partially_filled: {of(OrderUpdate, seen)[:3]}"
            )
            venue.force_fill(venue_id, qty - qty / 2, price)
            seen = await self.events(account, lambda es: bool(_updates(es, "conformance-fills", "filled")))
            whole = [u.filled_qty for u in _updates(seen, "conformance-fills", "filled")]
            assert whole == [qty], (
                f"{name}: an order filled in full must end in one update in state filled with filled_qty {qty}, "
                f"not {whole}"
            )

            other = await self.place(account, self.resting(account, venue, "conformance-cancel"))
            assert other.venue_order_id, f"{name}: a resting order settled without the venue's id: {other}"
            await self.settle(f"cancelling {other.venue_order_id}", account.cancel(other.venue_order_id))
            seen = await self.events(account, lambda es: bool(_updates(es, "conformance-cancel", "canceled")))
            assert _updates(seen, "conformance-cancel", "canceled"), f"{name}: a cancelled order never said canceled"

            venue.reject_orders(1, REJECTION)
            refused = await self.place(account, self.resting(account, venue, "conformance-reject"))
            assert (refused.state, REJECTION in (refused.reason or "")) == ("rejected", True), (
                f"{name}: the venue refused an order with {REJECTION!r} and it settled as {refused.state} with reason "
                f"{refused.reason!r}: a refusal is an OrderUpdate in state rejected carrying the venue's own text"
            )

            venue.drop_after_next_order()
            lost = await self.place(account, self.resting(account, venue, "conformance-lost"))
            assert lost.state == "unknown", (
                f"{name}: an order whose reply was lost with the socket settled as {lost.state}; it must be unknown "
                "until the venue's records settle it"
            )
            seen = await self.events(account, _settled("conformance-lost"))
            settled = _updates(seen, "conformance-lost", *FINAL, "new", "partially_filled")
            assert _settled("conformance-lost")(seen), (
                f"{name}: an order left unknown by a lost reply was not settled once the account was ready again "
                "after the reconnect: the orders snapshot (or an order lookup) must report it by its client id"
            )
            assert (settled[-1].state, bool(settled[-1].venue_order_id)) == ("new", True), (
                f"{name}: the venue placed the order whose reply was lost, yet it settled as {settled[-1]}"
            )

    async def _correlation(self) -> None:
        name = self.adapter.name
        async with self.venue() as venue, self.account(venue) as account:
            orders = [
                self.resting(account, venue, f"conformance-{n}", side=("buy", "sell")[n % 2], ticks=300 + n, lots=n + 1)
                for n in range(6)
            ]
            venue.reject_orders(1, REJECTION)
            answers: dict[str, OrderUpdate] = {}

            async def place(order: OrderRequest) -> None:
                answers[order.client_order_id or ""] = await self.place(account, order)

            async with anyio.create_task_group() as placing:
                for order in orders:
                    placing.start_soon(place, order)
        for order in orders:
            update = answers[order.client_order_id or ""]
            mine = (update.client_order_id, update.side, update.qty, update.price)
            assert mine == (order.client_order_id, order.side, order.qty, order.price) or update.state == "rejected", (
                f"{name}: placing {order.client_order_id} settled with another order's update {update}: match each "
                "reply to its request by the request id (Answer.req_id), never by arrival order"
            )
            assert update.client_order_id == order.client_order_id, (
                f"{name}: placing {order.client_order_id} settled with the update of {update.client_order_id}"
            )
        refused = [u for u in answers.values() if u.state == "rejected"]
        assert [REJECTION in (u.reason or "") for u in refused] == [True], (
            f"{name}: one of {len(orders)} concurrent placements was refused ({REJECTION!r}); settled as rejected: "
            f"{[(u.client_order_id, u.reason) for u in refused]}"
        )
        venue_ids = [u.venue_order_id for u in answers.values() if u.state != "rejected"]
        assert len({v for v in venue_ids if v}) == len(venue_ids), (
            f"{name}: concurrent placements settled with venue ids {venue_ids}: each its own"
        )

    async def _fills_once(self) -> None:
        name = self.adapter.name
        patient = ReconnectPolicy(initial=self.away, cap=self.away)
        async with self.venue() as venue, self.account(venue, reconnect=patient) as account:
            order = self.resting(account, venue, "conformance-away")
            venue_id = (await self.place(account, order)).venue_order_id or ""
            assert venue_id, f"{name}: a resting order settled without the venue's id"
            price, part = order.price or Decimal(0), (order.qty or Decimal(0)) / 4
            venue.force_fill(venue_id, part, price)
            before = await self.events(account, lambda es: bool(of(Fill, es)))
            assert len(of(Fill, before)) == 1, f"{name}: one execution made {len(of(Fill, before))} Fills"
            await self.settle("dropping the venue's connections", venue.drop_connections())
            venue.force_fill(venue_id, part, price)  # while the account is away: it cannot have reconnected yet
            after = await self.events(account, lambda es: bool(of(Disconnected, es) and of(AccountReady, es)))
            after += await collect_for(account, SETTLE)
        fills = [f for f in of(Fill, after) if f.venue_order_id == venue_id]
        assert fills, (
            f"{name}: a fill made while the account was disconnected never arrived after the reconnect: the "
            "executions snapshot's fills must be decoded, and only fills already delivered skipped"
        )
        earlier = of(Fill, before)[0].fill_id
        assert [f.fill_id for f in fills if f.fill_id != earlier] == [f.fill_id for f in fills][:1], (
            f"{name}: after the reconnect {len(fills)} fills arrived ({[f.fill_id for f in fills]}), one made while "
            f"away and {earlier} delivered before: fills are delivered exactly once, by fill_id, "
            "for the life of the account"
        )
        assert fills[0].qty == part, f"{name}: the fill made while away says qty {fills[0].qty}, not {part}"

    async def _never_resent(self) -> None:
        name = self.adapter.name
        async with self.venue() as venue, self.account(venue) as account:
            venue.drop_after_next_order()
            lost = await self.place(account, self.resting(account, venue, "conformance-once"))
            seen = await self.events(account, _settled("conformance-once"))
            seen += await collect_for(account, SETTLE)
            received = venue.orders_received("conformance-once")
        assert lost.state == "unknown", f"{name}: a placement whose reply was lost settled as {lost.state}, not unknown"
        assert of(Reconnected, seen), f"{name}: the account did not reconnect after the socket was cut"
        assert received == 1, (
            f"{name}: an order whose reply was lost reached the venue {received} times: an order request is never "
            "sent again, neither on reconnect nor after a timeout; the venue's records settle it"
        )

    async def _no_secret_shown(self) -> None:
        name = self.adapter.name
        shown: list[str] = []
        async with _logs_shown() as logs, self.venue() as venue, self.account(venue) as account:
            credentials = venue.credentials
            shown += [repr(account), repr(account.session.codec), repr(credentials), str(credentials)]
            shown.append(repr(await self.place(account, self.resting(account, venue, "conformance-secret"))))
            venue.reject_orders(1, REJECTION)
            shown.append(repr(await self.place(account, self.resting(account, venue, "conformance-refused"))))
            try:
                await self.settle(
                    "cancelling an order the venue does not have", account.cancel("conformance-no-such-order")
                )
            except RequestRejected as error:
                shown += [str(error), repr(error)]
            off_grid = self.resting(account, venue, "conformance-off-grid")
            off_grid = msgspec.structs.replace(
                off_grid, price=(off_grid.price or Decimal(0)) + price_step(account.instruments[self.symbol]) / 2
            )
            try:
                await self.place(account, off_grid)
            except PreTradeRefused as error:
                shown += [str(error), repr(error)]
            venue.drop_after_next_order()  # a reconnect: a fresh session where the venue issues them
            shown.append(repr(await self.place(account, self.resting(account, venue, "conformance-lost"))))
            seen = await self.events(account, _settled("conformance-lost"))
            shown += [repr(e) for e in seen] + [str(e) for e in seen]
            shown += [msgspec.json.encode(e).decode() for e in seen]
            shown += [repr(dict(account.open_orders)), repr(dict(account.balances)), repr(account.stats)]
            secrets = {"API key": credentials.key, "API secret": credentials.secret.reveal()}
            secrets |= {f"issued secret #{n + 1}": issued for n, issued in enumerate(venue.issued_secrets())}
        shown += logs.lines
        text = "\n".join(shown)
        for what, secret in secrets.items():
            assert secret not in text, (
                f"{name}: the {what} is shown: …{_redacted(text, secret)}…. Secrets travel as sdk.credentials.Secret "
                "and SignedFrame.text (both left out of reprs); never put a frame, token or key in an event, a log "
                "line or an exception"
            )

    async def _pre_trade_agreement(self) -> None:
        name = self.adapter.name
        async with self.venue() as venue, self.account(venue) as account:
            instrument = account.instruments[self.symbol]
            smallest = self.resting(account, venue, "conformance-smallest", lots=1)
            check_order(smallest, instrument)
            placed = await self.place(account, smallest)
            assert placed.state != "rejected", (
                f"{name}: the venue refused {smallest}, the smallest order the pre-trade check passes, with "
                f"{placed.reason!r}: the instrument data the codec decodes must state the venue's real grid and "
                "minimums"
            )
            refusable = _refused_by_the_check(instrument, smallest)
            assert refusable, f"{name}: {self.symbol}'s instrument data states no grid nor minimum to check"
            account.session.instruments[self.symbol] = _without_rules(instrument)  # let them reach the venue
            for rule, order in refusable.items():
                update = await self.place(account, order)
                assert update.state == "rejected", (
                    f"{name}: the pre-trade check refuses {order} ({rule}) but the venue took it ({update.state}): "
                    "the instrument data must not be stricter than the venue, and the simulator must refuse what "
                    "the venue refuses"
                )


def _refused_by_the_check(instrument: Instrument, smallest: OrderRequest) -> dict[str, OrderRequest]:
    """Orders one step off ``smallest`` that the pre-trade check refuses, by the rule each breaks."""
    tick, lot = price_step(instrument), qty_step(instrument)
    price, qty = smallest.price or tick, smallest.qty or lot
    candidates = {
        "price_precision": msgspec.structs.replace(smallest, price=price + tick / 2),
        "qty_precision": msgspec.structs.replace(smallest, qty=qty + lot / 2),
    }
    if instrument.qty_min is not None:
        candidates["qty_min"] = msgspec.structs.replace(smallest, qty=instrument.qty_min / 2)
    if instrument.cost_min is not None:
        least = max(instrument.qty_min or lot, lot)
        cheap = ((instrument.cost_min / least) / tick).to_integral_value(ROUND_CEILING) * tick - tick
        if cheap > 0:
            candidates["cost_min"] = msgspec.structs.replace(smallest, qty=least, price=cheap)
    refused = {}
    for rule, order in candidates.items():
        try:
            check_order(order, instrument)
        except PreTradeRefused:
            refused[rule] = msgspec.structs.replace(order, client_order_id=f"conformance-{rule}")
    return refused


def _without_rules(instrument: Instrument) -> Instrument:
    """``instrument`` with no grid and no minimum, so the account's check passes every order to the venue."""
    return msgspec.structs.replace(
        instrument,
        price_precision=28,
        qty_precision=28,
        price_increment=None,
        qty_increment=None,
        qty_min=None,
        cost_min=None,
    )
