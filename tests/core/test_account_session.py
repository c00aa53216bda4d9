"""The account's rules, sans-I/O, with a fake clock and Kraken v2's real message shapes: readiness,
settlement of each request, never re-sending an order, reconciliation of orders in doubt, fills
once across reconnects, token refusals and rate limits."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.kraken.private import KrakenPrivateCodec
from adapters.kraken.ratelimits import trading_rate_counter
from schemas.events import Disconnected, ErrorEvent, Instrument, Reconnected
from schemas.trading import AccountReady, Balance, Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.account_session import NOT_PLACED, VALIDATED, AccountSession, Pending
from sdk.credentials import Secret
from sdk.errors import AccountNotReady, OutcomeUnknown, PreTradeRefused, RateLimited, RequestRejected

NS = 1_700_000_000_000_000_000
TOKEN = Secret("tok-1")
BUY = OrderRequest(symbol="BTC/USD", side="buy", order_type="limit", qty=Decimal("0.5"), price=Decimal("30000"))


def executions(kind: str, *rows: dict[str, Any]) -> str:
    return json.dumps({"channel": "executions", "type": kind, "data": list(rows), "sequence": 1})


def balances_snapshot() -> str:
    rows = [{"asset": "USD", "balance": 100000.0}, {"asset": "BTC", "balance": 2.0}]
    return json.dumps({"channel": "balances", "type": "snapshot", "data": rows, "sequence": 1})


def instrument_snapshot() -> str:
    pair = {
        "symbol": "BTC/USD",
        "base": "BTC",
        "quote": "USD",
        "status": "online",
        "price_precision": 1,
        "qty_precision": 8,
        "price_increment": 0.1,
        "qty_increment": 0.00000001,
        "qty_min": 0.0001,
        "cost_min": 0.5,
    }
    return json.dumps({"channel": "instrument", "type": "snapshot", "data": {"assets": [], "pairs": [pair]}})


def reply(req_id: int, method: str, result: Any = None, error: str | None = None) -> str:
    message: dict[str, Any] = {"method": method, "req_id": req_id, "success": error is None}
    if error is None:
        message["result"] = result if result is not None else {}
    else:
        message["error"] = error
    return json.dumps(message)


def order_row(order_id: str, cid: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "cl_ord_id": cid,
        "exec_type": status,
        "order_status": status,
        "symbol": "BTC/USD",
        "side": "buy",
        "order_type": "limit",
        "order_qty": 0.5,
        "limit_price": 30000,
        "cum_qty": 0,
        **extra,
    }


def trade_row(order_id: str, exec_id: str, qty: str, cum: str, status: str = "partially_filled") -> dict[str, Any]:
    return {
        "order_id": order_id,
        "exec_id": exec_id,
        "exec_type": "trade",
        "trade_id": 1,
        "last_qty": float(qty),
        "last_price": 30000,
        "cum_qty": float(cum),
        "order_status": status,
        "liquidity_ind": "m",
        "fees": [{"asset": "USD", "qty": 1.5}],
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.wall = NS

    def step(self, seconds: float = 0.1) -> None:
        self.now += seconds
        self.wall += round(seconds * 1e9)


def new_session(**options: Any) -> AccountSession:
    return AccountSession(KrakenPrivateCodec(), trading_rate_counter(), seed=1, **options)


def feed(session: AccountSession, clock: Clock, *frames: str) -> list[TradingEvent]:
    clock.step()
    return session.receive(list(frames), clock.now, clock.wall)


def connect(session: AccountSession, clock: Clock, *snapshot_rows: dict[str, Any]) -> list[TradingEvent]:
    """A connection made, the token given, and both snapshots received."""
    events = session.connection_made(clock.now, clock.wall)
    session.token_received(TOKEN)
    sent(session, clock)
    events += feed(session, clock, instrument_snapshot(), executions("snapshot", *snapshot_rows), balances_snapshot())
    return events


def sent(session: AccountSession, clock: Clock) -> list[dict[str, Any]]:
    """Everything queued, handed to the socket; returned as JSON."""
    frames = session.take_outgoing()
    for frame in frames:
        session.sending(frame, clock.now)
    return [json.loads(frame.text) for frame in frames]


def placed(session: AccountSession, clock: Clock, order: OrderRequest = BUY) -> tuple[Pending, dict[str, Any]]:
    pending = session.place(order, clock.now)
    (frame,) = sent(session, clock)
    return pending, frame


def test_nothing_is_ready_before_both_snapshots() -> None:
    session, clock = new_session(), Clock()
    session.connection_made(clock.now, clock.wall)
    with pytest.raises(AccountNotReady):
        session.place(BUY, clock.now)
    session.token_received(TOKEN)
    channels = [f["params"]["channel"] for f in sent(session, clock)]
    assert channels == ["executions", "balances", "instrument"]
    assert feed(session, clock, executions("snapshot")) == []
    assert not any(isinstance(e, AccountReady) for e in feed(session, clock, balances_snapshot()))
    assert session.state == "rebuilding"  # no instrument data yet
    events = feed(session, clock, balances_snapshot(), instrument_snapshot())
    assert [type(e) for e in events] == [Balance, Balance, AccountReady]
    assert session.instruments["BTC/USD"].qty_min == Decimal("0.0001")
    assert session.state == "ready" and set(session.balances) == {("USD", None), ("BTC", None)}


def test_a_placement_settles_with_the_venues_id_then_tracks_the_order() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending, frame = placed(session, clock)
    assert frame["method"] == "add_order" and len(frame["params"]["cl_ord_id"]) == 32
    assert not pending.done
    feed(session, clock, reply(frame["req_id"], "add_order", {"order_id": "OAAAAA-AAAAA-AAAAAA"}))
    assert pending.done and len(pending.updates) == 1
    assert (pending.updates[0].state, pending.updates[0].venue_order_id) == ("pending_new", "OAAAAA-AAAAA-AAAAAA")
    feed(
        session,
        clock,
        executions("update", {"order_id": "OAAAAA-AAAAA-AAAAAA", "exec_type": "new", "order_status": "new"}),
    )
    assert session.orders["OAAAAA-AAAAA-AAAAAA"].state == "new"
    assert session.settled == [pending]


def test_a_refused_placement_settles_rejected_with_the_venues_text() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending, frame = placed(session, clock)
    events = feed(session, clock, reply(frame["req_id"], "add_order", error="EOrder:Insufficient funds"))
    assert len(pending.updates) == 1
    assert (pending.updates[0].state, pending.updates[0].reason) == ("rejected", "EOrder:Insufficient funds")
    assert events == list(pending.updates) and session.orders == {}


def test_validate_only_places_nothing_and_says_so() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    order = OrderRequest(**{**_fields(BUY), "validate_only": True})
    pending, frame = placed(session, clock, order)
    assert frame["params"]["validate"] is True
    feed(session, clock, reply(frame["req_id"], "add_order", {"order_id": ""}))
    assert len(pending.updates) == 1
    assert (pending.updates[0].state, pending.updates[0].reason, pending.updates[0].venue_order_id) == (
        "canceled",
        VALIDATED,
        None,
    )
    assert session.orders == {}


def test_a_reply_lost_with_the_socket_leaves_the_order_unknown_and_it_is_never_resent() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending, frame = placed(session, clock)
    cid = frame["params"]["cl_ord_id"]
    events = session.connection_lost("reset by peer", clock.now, clock.wall)
    assert len(pending.updates) == 1 and pending.updates[0].state == "unknown"
    assert [type(e) for e in events] == [OrderUpdate, Disconnected]
    assert session.orders[cid].state == "unknown"
    events = session.connection_made(clock.now, clock.wall)
    assert isinstance(events[0], Reconnected)
    session.token_received(Secret("tok-2"))
    resent = sent(session, clock)
    assert [f["method"] for f in resent] == ["subscribe", "subscribe", "subscribe"]  # no add_order
    assert all(f["params"]["token"] == "tok-2" for f in resent[:2])
    events = feed(
        session, clock, executions("snapshot", order_row("OBBBBB-BBBBB-BBBBBB", cid, "new")), balances_snapshot()
    )
    (update,) = [e for e in events if isinstance(e, OrderUpdate)]
    assert (update.state, update.client_order_id) == ("new", cid)
    assert isinstance(events[-1], AccountReady) and events[-1].open_orders == 1
    assert list(session.orders) == ["OBBBBB-BBBBB-BBBBBB"] and session.stats.reconciled == 1


def test_an_order_in_doubt_absent_from_the_snapshot_is_looked_up_before_it_is_called_not_placed() -> None:
    session, clock = new_session(lookup_attempts=2, lookup_retry=5.0), Clock()
    connect(session, clock)
    placed(session, clock)
    session.connection_lost("gone", clock.now, clock.wall)
    connect(session, clock)
    (lookup,) = session.take_lookups()
    assert lookup.order.state == "unknown" and session.state == "rebuilding"
    assert session.lookup_answered(lookup.order, None, clock.now, clock.wall) == []  # REST may lag: ask again
    assert session.next_deadline() == pytest.approx(clock.now + 5.0)
    clock.step(5.0)
    session.tick(clock.now, clock.wall)
    (again,) = session.take_lookups()
    events = session.lookup_answered(again.order, None, clock.now, clock.wall)
    assert [type(e) for e in events] == [OrderUpdate, AccountReady]
    assert isinstance(events[0], OrderUpdate) and (events[0].state, events[0].reason) == ("rejected", NOT_PLACED)


def test_an_order_in_doubt_found_in_the_venues_records_settles_as_found() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    placed(session, clock)
    session.connection_lost("gone", clock.now, clock.wall)
    connect(session, clock)
    (lookup,) = session.take_lookups()
    filled = OrderUpdate(
        **{
            **_fields(lookup.order),
            "state": "filled",
            "venue_order_id": "OCCCCC-CCCCC-CCCCCC",
            "filled_qty": Decimal("0.5"),
        }
    )
    events = session.lookup_answered(lookup.order, filled, clock.now, clock.wall)
    assert events[0] == filled and isinstance(events[1], AccountReady) and session.orders == {}


def test_an_open_order_that_closed_while_away_is_looked_up() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock, order_row("ODDDDD-DDDDD-DDDDDD", "mine-1", "new"))
    assert set(session.orders) == {"ODDDDD-DDDDD-DDDDDD"}
    session.connection_lost("gone", clock.now, clock.wall)
    connect(session, clock)  # the snapshot no longer shows it
    (lookup,) = session.take_lookups()
    assert lookup.order.client_order_id == "mine-1" and session.state == "rebuilding"


def test_a_placement_still_in_the_outbox_when_the_socket_drops_was_not_sent() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending = session.place(BUY, clock.now)
    session.connection_lost("gone", clock.now, clock.wall)
    assert len(pending.updates) == 1 and pending.updates[0].state == "rejected"
    assert pending.updates[0].reason is not None and pending.updates[0].reason.startswith("not sent")
    assert session.orders == {}


def test_a_late_reply_drops_the_socket_as_dead() -> None:
    session, clock = new_session(reply_timeout=2.0), Clock()
    connect(session, clock)
    placed(session, clock)
    assert session.next_deadline() == pytest.approx(clock.now + 2.0)
    clock.step(2.0)
    session.tick(clock.now, clock.wall)
    assert session.drop_reason == "no reply to add_order within 2 s"


def test_other_requests_lost_with_the_socket_fail_as_outcome_unknown() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending = session.cancel_all(clock.now)
    sent(session, clock)
    session.connection_lost("gone", clock.now, clock.wall)
    assert isinstance(pending.error, OutcomeUnknown)


def test_a_refused_cancel_raises_the_venues_text() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending = session.cancel(clock.now, venue_order_ids=["OXXXXX-XXXXX-XXXXXX"])
    (frame,) = sent(session, clock)
    feed(session, clock, reply(frame["req_id"], "cancel_order", error="EOrder:Unknown order"))
    assert isinstance(pending.error, RequestRejected) and pending.error.reason == "EOrder:Unknown order"


def test_a_cancel_of_several_orders_settles_after_every_reply() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending = session.cancel(clock.now, client_order_ids=["a", "b"])
    (frame,) = sent(session, clock)
    feed(session, clock, reply(frame["req_id"], "cancel_order", {"cl_ord_id": "a"}))
    assert not pending.done
    feed(session, clock, reply(frame["req_id"], "cancel_order", {"cl_ord_id": "b"}))
    assert pending.done and pending.error is None


def test_fills_are_delivered_once_across_a_reconnect_and_those_made_while_away_arrive() -> None:
    session, clock = new_session(), Clock()
    order = order_row("OEEEEE-EEEEE-EEEEEE", "mine-2", "new")
    connect(session, clock, order)
    first = feed(session, clock, executions("update", trade_row("OEEEEE-EEEEE-EEEEEE", "T1", "0.1", "0.1")))
    assert [f.fill_id for f in first if isinstance(f, Fill)] == ["T1"]
    session.connection_lost("gone", clock.now, clock.wall)
    away = trade_row("OEEEEE-EEEEE-EEEEEE", "T2", "0.2", "0.3")
    events = connect(
        session,
        clock,
        order_row("OEEEEE-EEEEE-EEEEEE", "mine-2", "partially_filled", cum_qty=0.3),
        trade_row("OEEEEE-EEEEE-EEEEEE", "T1", "0.1", "0.1"),
        away,
    )
    assert [f.fill_id for f in events if isinstance(f, Fill)] == ["T2"]
    assert session.orders["OEEEEE-EEEEE-EEEEEE"].filled_qty == Decimal("0.3")
    assert session.stats.fills == 2


def test_a_refused_token_is_replaced_and_the_private_channels_resubscribed() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending, frame = placed(session, clock)
    feed(session, clock, reply(frame["req_id"], "add_order", error="EAPI:Invalid token"))
    assert len(pending.updates) == 1 and pending.updates[0].state == "rejected"
    assert session.needs_token
    session.token_received(Secret("tok-3"))
    again = sent(session, clock)
    assert [f["params"]["channel"] for f in again[:2]] == ["executions", "balances"]
    assert all(f["params"]["token"] == "tok-3" for f in again[:2])
    assert session.state == "ready"  # the socket stayed up: nothing to rebuild


def test_the_rate_counter_refuses_before_sending_and_a_venue_refusal_fills_it() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    for _ in range(60):  # Kraken's starter threshold: 60, +1 per add
        session.place(BUY, clock.now)
    with pytest.raises(RateLimited) as refused:
        session.place(BUY, clock.now)
    assert refused.value.symbol == "BTC/USD" and refused.value.wait_s > 0
    frames = sent(session, clock)
    assert len(frames) == 60
    clock.step(61)
    pending = session.place(BUY, clock.now)
    (frame,) = sent(session, clock)
    feed(session, clock, reply(frame["req_id"], "add_order", error="EOrder:Rate limit exceeded"))
    assert len(pending.updates) == 1 and pending.updates[0].state == "rejected"
    assert session.stats.rate_limited == 1
    with pytest.raises(RateLimited):
        session.place(BUY, clock.now)  # the venue's counter is full: wait for all of it


def test_the_pre_trade_check_reads_the_instrument_data() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    assert isinstance(session.instruments["BTC/USD"], Instrument)
    with pytest.raises(PreTradeRefused) as refused:
        session.place(OrderRequest(**{**_fields(BUY), "price": Decimal("30000.05")}), clock.now)
    assert refused.value.rule == "price_precision"
    assert session.take_outgoing() == []


def test_an_unreadable_frame_is_an_error_event_and_changes_nothing() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    (error,) = feed(session, clock, '{"channel":"executions","type":"update","data":[{"order_id":1}]}')
    assert isinstance(error, ErrorEvent) and session.stats.decode_errors == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["place", "reply", "reject", "drop", "snapshot"]), max_size=40))
def test_no_sequence_of_events_sends_an_order_twice_or_leaves_a_caller_waiting(steps: list[str]) -> None:
    """Whatever happens, each client order id goes out in one add_order frame at most, and after
    a drop no request is left unsettled."""
    session, clock = new_session(), Clock()
    connect(session, clock)
    cids: list[str] = []
    waiting: list[tuple[Pending, dict[str, Any]]] = []
    orders = 0
    for step in steps:
        if step == "place" and session.state == "ready":
            orders += 1
            pending, frame = placed(session, clock, OrderRequest(**{**_fields(BUY), "client_order_id": f"c{orders}"}))
            cids.append(frame["params"]["cl_ord_id"])
            waiting.append((pending, frame))
        elif step in ("reply", "reject") and waiting:
            pending, frame = waiting.pop(0)
            error = "EOrder:Insufficient funds" if step == "reject" else None
            result = None if error else {"order_id": f"O{frame['req_id']:05d}-AAAAA-AAAAAA"}
            feed(session, clock, reply(frame["req_id"], "add_order", result, error))
        elif step == "drop" and session.state != "disconnected":
            session.connection_lost("dropped", clock.now, clock.wall)
            assert all(p.done for p, _ in waiting)
            waiting.clear()
        elif step == "snapshot" and session.state == "disconnected":
            connect(session, clock)
            for lookup in session.take_lookups():
                session.lookup_answered(lookup.order, None, clock.now, clock.wall)
            for frame in sent(session, clock):
                assert frame["method"] != "add_order"
    assert len(cids) == len(set(cids))


def _fields(struct: Any) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in struct.__struct_fields__}


def test_a_batch_settles_each_order_in_the_order_sent_and_is_checked_whole_before_sending() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    second = OrderRequest(**{**_fields(BUY), "price": Decimal("29990")})
    with pytest.raises(PreTradeRefused):
        session.place_batch([BUY, OrderRequest(**{**_fields(BUY), "price": Decimal("1.05")})], clock.now)
    assert session.take_outgoing() == []
    pending = session.place_batch([BUY, second], clock.now)
    (frame,) = sent(session, clock)
    assert frame["method"] == "batch_add" and len(frame["params"]["orders"]) == 2
    result = [{"order_id": "OFFFFF-FFFFF-FFFFF1"}, {"order_id": "OFFFFF-FFFFF-FFFFF2"}]
    feed(session, clock, reply(frame["req_id"], "batch_add", result))
    assert [u.venue_order_id for u in pending.updates] == ["OFFFFF-FFFFF-FFFFF1", "OFFFFF-FFFFF-FFFFF2"]
    assert [u.price for u in pending.updates] == [BUY.price, second.price]


def test_a_batch_lost_with_the_socket_leaves_every_order_unknown() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock)
    pending = session.place_batch([BUY, BUY], clock.now)
    sent(session, clock)
    session.connection_lost("gone", clock.now, clock.wall)
    assert [u.state for u in pending.updates] == ["unknown", "unknown"]
    assert len({u.client_order_id for u in pending.updates}) == 2


def test_fills_the_venue_no_longer_re_sends_are_reported_as_a_gap() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock, order_row("OGGGGG-GGGGG-GGGGGG", "mine-3", "new"))
    feed(session, clock, executions("update", trade_row("OGGGGG-GGGGG-GGGGGG", "T1", "0.1", "0.1")))
    session.connection_lost("gone", clock.now, clock.wall)
    # three fills while away; the snapshot re-sends only the last one
    events = connect(
        session,
        clock,
        trade_row("OGGGGG-GGGGG-GGGGGG", "T4", "0.1", "0.4"),
        order_row("OGGGGG-GGGGG-GGGGGG", "mine-3", "partially_filled", cum_qty=0.4),
    )
    assert [f.fill_id for f in events if isinstance(f, Fill)] == ["T4"]
    (gap,) = [e for e in events if isinstance(e, ErrorEvent)]
    assert "0.4 filled but fills for 0.2 delivered" in gap.message and "other 0.2" in gap.message
    assert isinstance(events[-1], AccountReady) and events.index(gap) < len(events) - 1
    session.connection_lost("again", clock.now, clock.wall)
    again = connect(session, clock, order_row("OGGGGG-GGGGG-GGGGGG", "mine-3", "partially_filled", cum_qty=0.4))
    assert not [e for e in again if isinstance(e, ErrorEvent)]  # said once


def test_an_order_filled_in_full_while_connected_leaves_nothing_to_check() -> None:
    session, clock = new_session(), Clock()
    connect(session, clock, order_row("OHHHHH-HHHHH-HHHHHH", "mine-4", "new"))
    feed(session, clock, executions("update", trade_row("OHHHHH-HHHHH-HHHHHH", "T9", "0.5", "0.5", "filled")))
    assert session._fill_tally == {}
