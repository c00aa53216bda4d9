"""The trading account end to end against the Kraken v2 simulator over real loopback sockets, on
asyncio and trio: the order lifecycle, refusals, validate-only, the dead man's switch, and every
fault of the never-twice, never-lost rules."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import anyio
import pytest

import sdk
from adapters.kraken.simulator import DEFAULT_TEST_KEY, DEFAULT_TEST_SECRET, KrakenSimulator
from schemas.events import Disconnected, ErrorEvent, Reconnected
from schemas.trading import AccountReady, Balance, Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.account_session import VALIDATED
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

CREDENTIALS = sdk.Credentials(key=DEFAULT_TEST_KEY, secret=DEFAULT_TEST_SECRET)


def open_account(simulator: KrakenSimulator, **options: Any) -> sdk.Account:
    return sdk.account("kraken", CREDENTIALS, simulator.auth_url, simulator.rest_url, **options)


def limit(simulator: KrakenSimulator, side: str, ticks_away: int, qty: str = "0.01", **extra: Any) -> OrderRequest:
    """A BTC/USD limit order ``ticks_away`` ticks behind the touch (negative: through it)."""
    state = simulator.market.state("BTC/USD")
    best = state.bids.best() if side == "buy" else state.asks.best()
    assert best is not None
    tick = state.instrument.tick
    price = best - ticks_away * tick if side == "buy" else best + ticks_away * tick
    return OrderRequest(symbol="BTC/USD", side=side, order_type="limit", qty=Decimal(qty), price=price, **extra)  # type: ignore[arg-type]


def updates(events: list[TradingEvent], state: str, cid: str | None = None) -> list[OrderUpdate]:
    return [e for e in of(OrderUpdate, events) if e.state == state and cid in (None, e.client_order_id)]


async def test_place_partially_fill_amend_and_cancel() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        assert account.state == "ready" and ("USD", None) in account.balances
        assert account.instruments["BTC/USD"].price_precision == 1
        order = limit(simulator, "buy", 300, client_order_id="rests")
        placed = await account.place(order)
        assert placed.state in ("pending_new", "new") and placed.venue_order_id is not None
        venue_id = placed.venue_order_id
        await collect_until(account, lambda es: bool(updates(es, "new", "rests")))
        assert account.open_orders[venue_id].state == "new"

        simulator.force_fill(venue_id, Decimal("0.004"), order.price or Decimal(0))
        events = await collect_until(account, lambda es: bool(updates(es, "partially_filled")) and bool(of(Fill, es)))
        (fill,) = of(Fill, events)
        assert (fill.qty, fill.price, fill.venue_order_id, fill.client_order_id) == (
            Decimal("0.004"),
            order.price,
            venue_id,
            "rests",
        )
        assert fill.liquidity == "maker" and fill.fee > 0 and fill.fee_asset == "USD"
        assert account.open_orders[venue_id].filled_qty == Decimal("0.004")

        await account.amend(venue_order_id=venue_id, qty=Decimal("0.02"))
        events = await collect_until(account, lambda es: any(u.qty == Decimal("0.02") for u in of(OrderUpdate, es)))
        assert account.open_orders[venue_id].qty == Decimal("0.02")

        await account.cancel(venue_id)
        events = await collect_until(account, lambda es: bool(updates(es, "canceled")))
        (canceled,) = updates(events, "canceled")
        assert canceled.filled_qty == Decimal("0.004") and venue_id not in account.open_orders
        assert of(Balance, events) or account.balances[("USD", None)].total
    assert simulator.orders_received("rests") == 1


async def test_a_refused_order_carries_the_venues_text_and_validate_only_places_nothing() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        refused = await account.place(limit(simulator, "buy", 300, qty="1000"))  # 30M USD: far beyond the balance
        assert (refused.state, refused.reason) == ("rejected", "EOrder:Insufficient funds")
        checked = await account.place(limit(simulator, "buy", 300, client_order_id="check", validate_only=True))
        assert (checked.state, checked.reason, checked.venue_order_id) == ("canceled", VALIDATED, None)
        assert simulator.engine.open_orders(DEFAULT_TEST_KEY) == [] and account.open_orders == {}
        with pytest.raises(sdk.PreTradeRefused) as precision:
            await account.place(limit(simulator, "buy", 300, qty="0.000000001"))
        assert precision.value.rule == "qty_precision"
        with pytest.raises(sdk.RequestRejected, match="EOrder:Unknown order"):
            await account.cancel("ONOPE0-XXXXX-XXXXXX")


async def test_the_dead_mans_switch_cancels_everything() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        await account.place(limit(simulator, "buy", 300, client_order_id="d1"))
        await account.place(limit(simulator, "sell", 300, client_order_id="d2"))
        trigger = await account.cancel_all_after(1)
        assert trigger is not None
        events = await collect_until(account, lambda es: len(updates(es, "canceled")) == 2, timeout=5)
        assert {u.client_order_id for u in updates(events, "canceled")} == {"d1", "d2"}
        assert account.open_orders == {}
        assert await account.cancel_all_after(0) is None


async def test_a_batch_and_cancel_all_which_reports_the_count() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        batch = [limit(simulator, "buy", 300 + number, client_order_id=f"b{number}") for number in range(3)]
        placed = await account.place_batch(batch)
        assert [u.client_order_id for u in placed] == ["b0", "b1", "b2"]
        assert all(u.venue_order_id for u in placed) and len({u.venue_order_id for u in placed}) == 3
        assert await account.cancel_all() == 3
        await collect_until(account, lambda es: len(updates(es, "canceled")) == 3)
        assert account.open_orders == {}


async def test_a_reply_lost_with_the_socket_reaches_the_venue_once_and_settles_from_the_snapshot(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with (
        KrakenSimulator(tick_interval=0.01) as simulator,
        open_account(simulator, reconnect=fast_reconnect) as account,
    ):
        simulator.drop_after_next_order()
        placed = await account.place(limit(simulator, "buy", 300, client_order_id="lost"))
        assert placed.state == "unknown" and placed.venue_order_id is None
        events = await collect_until(
            account, lambda es: len(of(AccountReady, es)) == 2
        )  # on entry, after the reconnect
        assert of(Disconnected, events) and of(Reconnected, events)
        (settled,) = updates(events, "new", "lost")
        assert settled.venue_order_id is not None and account.open_orders[settled.venue_order_id] == settled
        assert (
            events.index(of(Reconnected, events)[0]) < events.index(settled) < events.index(of(AccountReady, events)[1])
        )
        assert simulator.orders_received("lost") == 1
        assert account.stats.unknown == 1 and account.stats.reconciled == 1


async def test_a_lost_order_that_closed_at_once_is_settled_by_the_venues_records(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with (
        KrakenSimulator(tick_interval=0.01) as simulator,
        open_account(simulator, reconnect=fast_reconnect) as account,
    ):
        simulator.drop_after_next_order()
        ioc = limit(simulator, "buy", 300, client_order_id="gone", time_in_force="ioc")  # cannot fill: cancelled
        assert (await account.place(ioc)).state == "unknown"
        events = await collect_until(account, lambda es: len(of(AccountReady, es)) == 2)
        (settled,) = updates(events, "canceled", "gone")
        assert settled.venue_order_id is not None and settled.filled_qty == 0
        assert simulator.orders_received("gone") == 1 and account.stats.reconciled == 1


async def test_fills_made_during_an_outage_arrive_once_after_the_reconnect() -> None:
    patient = sdk.ReconnectPolicy(initial=0.6, cap=0.6)
    async with (
        KrakenSimulator(tick_interval=0.01) as simulator,
        open_account(simulator, reconnect=patient) as account,
    ):
        order = limit(simulator, "buy", 300, qty="0.03", client_order_id="away")
        venue_id = (await account.place(order)).venue_order_id
        assert venue_id is not None
        price = order.price or Decimal(0)
        simulator.force_fill(venue_id, Decimal("0.01"), price)
        await collect_until(account, lambda es: bool(of(Fill, es)))
        await simulator.drop_connections()
        await collect_until(account, lambda es: bool(of(Disconnected, es)))
        simulator.force_fill(venue_id, Decimal("0.01"), price)  # while the account is away
        events = await collect_until(account, lambda es: bool(of(AccountReady, es)), timeout=5)
        fills = of(Fill, events)
        assert [f.qty for f in fills] == [Decimal("0.01")]  # the one made while away; the first not again
        assert account.open_orders[venue_id].filled_qty == Decimal("0.02")
        assert account.stats.fills == 2


async def test_a_token_rejected_mid_session_is_replaced() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        fetched = account.stats.tokens_fetched
        simulator.invalidate_tokens()
        refused = await account.place(limit(simulator, "buy", 300))
        assert (refused.state, refused.reason) == ("rejected", "EAPI:Invalid token")
        with anyio.fail_after(5):
            while account.stats.tokens_fetched == fetched:
                await anyio.sleep(0.01)
        events = await collect_until(account, lambda es: len(of(Balance, es)) >= 4)  # the resubscribed snapshot
        assert not of(ErrorEvent, events)  # nothing refused the new subscriptions
        placed = await account.place(limit(simulator, "buy", 300, client_order_id="after"))
        assert placed.state in ("pending_new", "new") and simulator.orders_received("after") == 1


async def test_a_rate_limit_refusal_is_its_own_kind_and_fills_the_counter() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator, open_account(simulator) as account:
        simulator.reject_orders(1)
        refused = await account.place(limit(simulator, "buy", 300))
        assert (refused.state, refused.reason) == ("rejected", "EOrder:Rate limit exceeded")
        with pytest.raises(sdk.RateLimited) as waiting:
            await account.place(limit(simulator, "buy", 300))
        assert waiting.value.symbol == "BTC/USD" and waiting.value.level > 59.9 and waiting.value.wait_s > 0.9
        assert account.stats.rate_limited == 1


async def test_a_refused_key_fails_the_entry_with_the_venues_reason() -> None:
    async with KrakenSimulator() as simulator:
        wrong = sdk.Credentials(key="nobody", secret=DEFAULT_TEST_SECRET)
        with pytest.raises(sdk.TokenRequestFailed) as refused:
            async with sdk.account("kraken", wrong, simulator.auth_url, simulator.rest_url):
                pass
        assert refused.value.errors == ("EAPI:Invalid key",)


def test_the_sync_face_places_fills_amends_and_cancels_the_same(anyio_backend: str) -> None:
    with KrakenSimulatorThread() as simulator:
        account = sdk.account_sync("kraken", CREDENTIALS, simulator.auth_url, simulator.rest_url, backend=anyio_backend)
        with account:
            assert account.state == "ready"
            placed = account.place(simulator.order)
            venue_id = placed.venue_order_id
            assert venue_id is not None
            simulator.call(lambda: simulator.simulator.force_fill(venue_id, Decimal("0.004"), simulator.order.price))
            seen = _drain(account, lambda es: bool(of(Fill, es)) and bool(updates(es, "partially_filled")))
            assert of(Fill, seen)[0].qty == Decimal("0.004")
            account.amend(venue_order_id=venue_id, qty=Decimal("0.02"))
            _drain(account, lambda es: any(u.qty == Decimal("0.02") for u in of(OrderUpdate, es)))
            assert account.open_orders[venue_id].qty == Decimal("0.02")
            account.cancel(venue_id)
            seen = _drain(account, lambda es: bool(updates(es, "canceled")))
            assert updates(seen, "canceled")[0].filled_qty == Decimal("0.004")
            assert account.open_orders == {}
            assert account.cancel_all() == 0
            refused = account.place(OrderRequest(**{**_fields(simulator.order), "qty": Decimal("1000")}))
            assert (refused.state, refused.reason) == ("rejected", "EOrder:Insufficient funds")


def test_no_secret_reaches_an_event_a_log_line_a_repr_or_an_error(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Key, secret and every token issued are searched for in all the account showed."""
    caplog.set_level(logging.DEBUG)
    shown: list[str] = []
    with KrakenSimulatorThread() as simulator:
        account = sdk.account_sync("kraken", CREDENTIALS, simulator.auth_url, simulator.rest_url, backend=anyio_backend)
        with account:
            shown += [repr(account), repr(account._source), repr(account._source.session.codec), repr(CREDENTIALS)]
            account.place(simulator.order)
            refused = account.place(simulator.order.__class__(**{**_fields(simulator.order), "qty": Decimal("1000")}))
            shown.append(repr(refused))
            try:
                account.cancel("ONOPE0-XXXXX-XXXXXX")
            except sdk.RequestRejected as error:
                shown.append(str(error))
            simulator.call(simulator.simulator.invalidate_tokens)
            shown.append(repr(account.place(simulator.order)))
            seen = _drain(account, lambda es: sum(isinstance(e, Balance) for e in es) >= 4)
            shown += [repr(e) for e in seen] + [str(e) for e in seen]
            shown += [repr(account.open_orders), repr(account.balances), repr(account.stats)]
        tokens = simulator.tokens()
    ours = [r for r in caplog.records if not r.name.startswith("websockets.server")]  # the venue sees tokens
    assert any(r.name.startswith("xfeeds") for r in ours) and any(r.name.startswith("httpx") for r in ours)
    shown += [record.getMessage() for record in ours] + [repr(record.args) for record in ours]
    assert len(tokens) >= 2  # the first, and the one that replaced it
    text = "\n".join(shown)
    for secret in [DEFAULT_TEST_SECRET, DEFAULT_TEST_KEY, *tokens]:
        assert secret not in text


# -- a simulator on its own thread, for the blocking face -------------------------------------


class KrakenSimulatorThread:
    """The simulator served from a background event loop, so blocking code can trade against it."""

    def __enter__(self) -> KrakenSimulatorThread:
        from contextlib import ExitStack

        from anyio.from_thread import start_blocking_portal

        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        self.simulator = self._stack.enter_context(
            self._portal.wrap_async_context_manager(KrakenSimulator(tick_interval=0.01))
        )
        self.order = self._portal.call(lambda: limit(self.simulator, "buy", 300))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    @property
    def auth_url(self) -> str:
        return self.simulator.auth_url

    @property
    def rest_url(self) -> str:
        return self.simulator.rest_url

    def call(self, function: Any) -> Any:
        return self._portal.call(function)

    def tokens(self) -> list[str]:
        return list(self.simulator.desk.rest.issued)


def _drain(account: sdk.SyncAccount, done: Any, seconds: float = 5.0) -> list[TradingEvent]:
    seen: list[TradingEvent] = []
    for event in account:
        seen.append(event)
        if done(seen):
            break
    return seen


def _fields(struct: Any) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in struct.__struct_fields__}


async def test_an_account_not_ready_in_time_raises_a_plain_timeout_naming_what_is_missing() -> None:
    async with KrakenSimulator() as simulator:
        simulator.read_delay = 1.0  # the venue answers nothing within the timeout, whatever the transport's pace
        with pytest.raises(TimeoutError, match=r"was not ready within 0\.05 s"):
            async with open_account(simulator, ready_timeout=0.05):
                pass
