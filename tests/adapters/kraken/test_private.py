"""The Kraken v2 private codec against every line of the captured private traffic: received lines
decode to the trading events asserted here, sent lines are what the encoder produces."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.kraken.private import KrakenPrivateCodec
from schemas.events import ErrorEvent
from schemas.trading import Balance, Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.credentials import Secret
from sdk.trading_contract import Answer, Decoded, SignedFrame, SnapshotDone
from sdk.wiretext import WireValueError
from tests.conftest import fixture_lines

LINES = fixture_lines("kraken/v2_private.jsonl")
SENT = {1, 4, 34, 42, 48, 51, 55, 58, 60, 62}
"""Lines a client sent (``v2_private.sources.md``); the rest were received."""
NOT_ENCODED = {
    48: "edit_order is Kraken's legacy cancel-and-replace; amend_order replaces it",
}
NS = 1_000


def line(number: int) -> str:
    return LINES[number - 1]


def decoded_all(*numbers: int, codec: KrakenPrivateCodec | None = None) -> list[Decoded]:
    """Everything fixture lines fed, in order, to one codec decode to."""
    codec = codec or KrakenPrivateCodec()
    return [event for number in numbers for event in codec.decode_frame(line(number), NS)]


def decoded(*numbers: int, codec: KrakenPrivateCodec | None = None) -> list[TradingEvent]:
    """The trading events (what a user sees) of fixture lines fed, in order, to one codec."""
    return [e for e in decoded_all(*numbers, codec=codec) if not isinstance(e, Answer | SnapshotDone)]


def events_of(codec: KrakenPrivateCodec, frame: str) -> list[TradingEvent]:
    """The trading events (what a user sees) of one frame."""
    return [e for e in codec.decode_frame(frame, NS) if not isinstance(e, Answer | SnapshotDone)]


T = TypeVar("T")


def of_type(kind: type[T], events: list[TradingEvent]) -> list[T]:
    return [event for event in events if isinstance(event, kind)]


def sent_json(frame: SignedFrame) -> dict[str, Any]:
    return dict(json.loads(frame.text, parse_float=Decimal))


def fixture_json(number: int, *, defaults: tuple[str, ...] = ()) -> dict[str, Any]:
    """A sent line, without keys the client set to Kraken's own default or outside the shared
    model (``post_only: false``, ``fee_preference``); ``req_id`` is the sender's own counter."""
    message = json.loads(line(number), parse_float=Decimal)
    params = message["params"]
    if params.get("channel") == "executions":  # line 1 spells the snapshot flags as Kraken used to
        params["snap_orders"], params["snap_trades"] = params.pop("snapshot"), params.pop("snapshot_trades")
    for key in defaults:
        message["params"].pop(key, None)
        for order in message["params"].get("orders", ()):
            order.pop(key)
    return dict(message)


def reply_to(frame: SignedFrame, number: int) -> str:
    """A captured reply, answering ``frame``'s request."""
    message = json.loads(line(number))
    message["req_id"] = frame.req_id
    return json.dumps(message)


def test_every_line_is_accounted_for() -> None:
    assert len(LINES) == 63
    codec = KrakenPrivateCodec()
    for number in range(1, 64):
        if number in SENT:
            assert number in NOT_ENCODED or number in ENCODED_BY, number
        else:
            codec.decode_frame(line(number), NS)  # every received line decodes, in one session too


# -- encoding ---------------------------------------------------------------------------------

USDC_IOC = OrderRequest(
    symbol="USDC/USD", side="buy", order_type="limit", qty=Decimal("5.0"), price=Decimal("0.95"), time_in_force="ioc"
)


def encode_line(number: int, codec: KrakenPrivateCodec) -> SignedFrame:
    if number == 1:
        return codec.subscribe_executions(Secret("someToken"))
    if number == 4:
        return codec.subscribe_balances(Secret("anotherToken"))
    if number == 34:
        return codec.add_order(USDC_IOC, Secret("aToken"))
    if number == 42:
        return codec.amend_order(
            Secret("aToken"), venue_order_id="BQS60L-EGW18-UPAK9U", qty=Decimal("5.1"), price=Decimal("0.96")
        )
    if number == 51:
        return codec.cancel_order(Secret("thatToken"), venue_order_ids=["1V7PZA-L5RIM-RX2G6B"])
    if number == 55:
        return codec.cancel_all(Secret("thisToken"))
    if number == 58:
        return codec.cancel_all_orders_after(5, Secret("yourToken"))
    if number == 60:
        orders = [
            OrderRequest(
                symbol="USDC/USD", side="buy", order_type="limit", qty=Decimal("5.0"), price=price, post_only=True
            )
            for price in (Decimal("0.99"), Decimal("0.95"))
        ]
        return codec.batch_add(orders, Secret("myToken"))
    assert number == 62
    return codec.batch_cancel(Secret("theirToken"), venue_order_ids=["IY8YF6-Y6LCR-AMZD7P", "XR6VND-GLY6K-DL33TB"])


ENCODED_BY = {
    1: (),
    4: (),
    34: ("post_only", "fee_preference"),
    42: ("post_only",),
    51: (),
    55: (),
    58: (),
    60: ("fee_preference",),
    62: (),
}
"""Sent lines the encoder reproduces, and the keys it leaves to Kraken's defaults or outside the model."""


@pytest.mark.parametrize("number", sorted(ENCODED_BY))
def test_encoder_produces_the_sent_line(number: int) -> None:
    frame = encode_line(number, KrakenPrivateCodec())
    expected = fixture_json(number, defaults=ENCODED_BY[number])
    assert sent_json(frame) == {**expected, "req_id": frame.req_id}
    assert frame.method == expected["method"]


def test_order_kinds_and_options_map_to_kraken_spellings() -> None:
    order = OrderRequest(
        symbol="BTC/USD",
        side="sell",
        order_type="stop_loss_limit",
        qty=Decimal("0.00010000"),
        price=Decimal("80000.0"),
        stop_price=Decimal("81000.5"),
        time_in_force="gtd",
        expire_time=1_769_061_979_833_306_000,
        reduce_only=True,
        client_order_id="b17c7bb34d000200",
        validate_only=True,
    )
    params = sent_json(KrakenPrivateCodec().add_order(order, Secret("t")))["params"]
    assert params == {
        "order_type": "stop-loss-limit",
        "side": "sell",
        "symbol": "BTC/USD",
        "order_qty": Decimal("0.00010000"),
        "limit_price": Decimal("80000.0"),
        "triggers": {"price": Decimal("81000.5")},
        "time_in_force": "gtd",
        "expire_time": "2026-01-22T06:06:19.833306Z",
        "reduce_only": True,
        "cl_ord_id": "b17c7bb34d000200",
        "validate": True,
        "token": "t",
    }
    market = OrderRequest(symbol="ETH/USD", side="buy", order_type="market", quote_qty=Decimal("25.5"))
    assert sent_json(KrakenPrivateCodec().add_order(market, Secret("t")))["params"] == {
        "order_type": "market",
        "side": "buy",
        "symbol": "ETH/USD",
        "cash_order_qty": Decimal("25.5"),
        "token": "t",
    }
    cancel = KrakenPrivateCodec().cancel_order(Secret("t"), client_order_ids=["a", "b"])
    assert sent_json(cancel)["params"] == {"cl_ord_id": ["a", "b"], "token": "t"}


def test_each_request_gets_its_own_id() -> None:
    codec = KrakenPrivateCodec()
    ids = [codec.cancel_all(Secret("t")).req_id for _ in range(3)]
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    "request_of",
    [
        lambda c: c.cancel_order(Secret("t"), venue_order_ids=["A"], client_order_ids=["b"]),
        lambda c: c.batch_cancel(Secret("t")),
        lambda c: c.amend_order(Secret("t")),
        lambda c: c.cancel_all_orders_after(-1, Secret("t")),
        lambda c: c.batch_add([USDC_IOC], Secret("t")),
    ],
)
def test_contradictory_requests_are_refused(request_of: Any) -> None:
    with pytest.raises(ValueError, match=r"exactly one|batch holds|negative"):
        request_of(KrakenPrivateCodec())


# -- the token --------------------------------------------------------------------------------

TOKEN = "sEcReT-t0ken-value"


def test_the_token_never_shows() -> None:
    codec = KrakenPrivateCodec()
    frames = [
        codec.add_order(USDC_IOC, Secret(TOKEN)),
        codec.cancel_all(Secret(TOKEN)),
        codec.cancel_order(Secret(TOKEN), venue_order_ids=["A"]),
        codec.subscribe_executions(Secret(TOKEN)),
    ]
    assert all(TOKEN in frame.text for frame in frames)
    events = events_of(codec, reply_to(frames[0], 38))
    shown = [repr(codec), str(codec), *map(repr, frames), *map(str, frames), *map(repr, events)]
    for refusal in (
        lambda: codec.cancel_order(Secret(TOKEN)),
        lambda: codec.batch_add([USDC_IOC], Secret(TOKEN)),
        lambda: codec.amend_order(Secret(TOKEN), venue_order_id="A", client_order_id="b"),
    ):
        with pytest.raises(ValueError, match=r"exactly one|batch holds") as refused:
            refusal()
        shown.append(str(refused.value))
    assert not [text for text in shown if TOKEN in text]


# -- executions -------------------------------------------------------------------------------


def test_empty_snapshot() -> None:
    assert decoded(9) == []


def test_trade_snapshot_rows_each_give_a_fill_and_a_filled_order() -> None:
    events = decoded(11)
    fills, orders = of_type(Fill, events), of_type(OrderUpdate, events)
    assert [f.fill_id for f in fills] == [
        "B1Y0D9-6JIJG-W1IB7L",
        "0CVSSH-KVM0J-TCXLSQ",
        "QEP2P0-DVAJN-VF1UTF",
        "NG6PUE-C7MXN-CFCAMC",
    ]
    first = fills[0]
    assert (first.symbol, first.side, first.qty, first.price) == (
        "BTC/USD",
        "sell",
        Decimal("0.00016000"),
        Decimal("63377.2"),
    )
    assert (first.fee, first.fee_asset, first.liquidity, first.trade_id) == (
        Decimal("0.04051"),
        "USD",
        "taker",
        "37496584",
    )
    assert fills[1].liquidity == "maker" and fills[2].order_type == "market"
    assert [o.state for o in orders] == ["filled"] * 4
    assert [o.filled_qty for o in orders] == [f.qty for f in fills]
    assert [o.avg_price for o in orders] == [f.price for f in fills]
    assert orders[3].venue_order_id == "MMNB64-U9T0S-U8W0PJ" and orders[3].symbol == "BRICK/USD"


def test_sparse_lifecycle_is_filled_in_from_the_order_known() -> None:
    events = decoded(12, 13, 14, 15, 16)
    assert all(isinstance(event, OrderUpdate) for event in events)
    updates = of_type(OrderUpdate, events)
    assert [u.state for u in updates] == ["pending_new", "new", "new", "new", "canceled"]
    assert {(u.symbol, u.side, u.venue_order_id, u.client_order_id, u.order_type) for u in updates} == {
        ("BTC/USDT", "buy", "OVN7VD-7VYHS-APBKHA", "b17c7bb34d000200", "limit")
    }
    assert [u.price for u in updates] == [
        Decimal("80000.0"),
        Decimal("80000.0"),
        Decimal("81818.0"),
        Decimal("81818.0"),
        Decimal("81818.0"),
    ]
    assert [u.qty for u in updates] == [Decimal("0.00010000")] * 3 + [Decimal("0.00005000")] * 2
    assert all(u.filled_qty == 0 and u.avg_price is None and u.stop_price is None for u in updates)
    assert [u.reason for u in updates] == [None, None, "User requested", "User requested", "User requested"]
    assert updates[1].ts_exchange == 1_769_061_979_833_306_000


def test_post_only_lifecycle() -> None:
    updates = of_type(OrderUpdate, decoded(21, 22))
    assert [(u.state, u.symbol, u.qty, u.price) for u in updates] == [
        ("pending_new", "BTC/USD", Decimal("0.00009073"), Decimal("95771.3")),
        ("new", "BTC/USD", Decimal("0.00009073"), Decimal("95771.3")),
    ]


@pytest.mark.parametrize("number", [19, 24])
def test_pending_new_carries_the_whole_order(number: int) -> None:
    (update,) = decoded(number)
    assert isinstance(update, OrderUpdate)
    assert update.state == "pending_new" and update.side == "buy" and update.filled_qty == 0
    assert update.qty is not None and update.price is not None and update.stop_price is None


@pytest.mark.parametrize("number", [13, 16, 18, 20, 22, 23, 25, 26, 27])
def test_sparse_update_of_an_order_never_seen_is_reported(number: int) -> None:
    (event,) = decoded(number)
    assert isinstance(event, ErrorEvent)
    assert json.loads(line(number))["data"][0]["order_id"] in event.message


def test_trade_then_completion() -> None:
    events = decoded(17, 18)
    fill, trade, completion = events
    assert isinstance(fill, Fill) and isinstance(trade, OrderUpdate) and isinstance(completion, OrderUpdate)
    assert (fill.fill_id, fill.client_order_id, fill.fee, fill.fee_asset) == (
        "TMMPIN-ECDGJ-PNJZIQ",
        "68dd9cb64d000200",
        Decimal("0.03598"),
        "USDT",
    )
    assert (trade.state, trade.filled_qty, trade.avg_price) == (
        "partially_filled",
        Decimal("0.00010000"),
        Decimal("89961.1"),
    )
    assert (completion.state, completion.symbol, completion.side) == ("filled", "BTC/USDT", "buy")
    assert (completion.filled_qty, completion.avg_price) == (Decimal("0.00010000"), Decimal("89961.1"))


def test_trade_that_fills_the_known_order_is_filled() -> None:
    """Kraken may say partially_filled on the trade that completes the order."""
    codec = KrakenPrivateCodec()
    pending = json.loads(line(19))
    pending["data"][0].update(order_id="OHS47E-VEKOV-BTNQES", cl_ord_id="68dd9cb64d000200")
    events_of(codec, json.dumps(pending))
    (_, trade) = events_of(codec, line(17))
    assert isinstance(trade, OrderUpdate) and trade.state == "filled" and trade.qty == Decimal("0.00010000")


def test_a_fill_resent_in_a_later_snapshot_is_delivered_once() -> None:
    events = decoded(17, 18, 10)
    assert len(of_type(Fill, events)) == 1
    assert of_type(OrderUpdate, events)[-1].filled_qty == Decimal("0.00010000")


def test_one_frame_may_carry_several_kinds_of_row() -> None:
    """A frame is never classified by its first row: a pending_new, a trade and a cancel together."""
    rows = [json.loads(line(n))["data"][0] for n in (12, 17, 16)]
    frame = json.dumps({"channel": "executions", "type": "update", "data": rows, "sequence": 9})
    events = KrakenPrivateCodec().decode_frame(frame, NS)
    assert [type(e).__name__ for e in events] == ["OrderUpdate", "Fill", "OrderUpdate", "OrderUpdate"]
    assert [e.state for e in of_type(OrderUpdate, events)] == ["pending_new", "partially_filled", "canceled"]


# -- balances ---------------------------------------------------------------------------------


def test_balance_snapshot_with_wallets() -> None:
    assert [(b.asset, b.total, b.wallet) for b in of_type(Balance, decoded(28))] == [
        ("USDT", Decimal("100.00000000"), None),
        ("USDT", Decimal("100.00000000"), "spot:main"),
    ]


def test_balance_snapshot_before_wallets() -> None:
    balances = of_type(Balance, decoded(31))
    assert [(b.asset, b.total, b.wallet, b.available) for b in balances] == [
        ("BRICK", Decimal("439.9736"), None, None),
        ("KAR", Decimal("774.6366982600"), None, None),
        ("KEEP", Decimal("622.3962481300"), None, None),
        ("MULTI", Decimal("5.5971035500"), None, None),
        ("USD", Decimal("160.2405"), None, None),
    ]


@pytest.mark.parametrize(
    ("number", "asset", "total"),
    [
        (29, "BTC", Decimal("0.0000000000")),
        (30, "USDT", Decimal("99.89293000")),
        (32, "USD", Decimal("118.0677")),
        (33, "ADX", Decimal("147.1906006900")),
    ],
)
def test_balance_update_is_the_wallets_balance_after_the_entry(number: int, asset: str, total: Decimal) -> None:
    (balance,) = decoded(number)
    assert isinstance(balance, Balance)
    assert (balance.asset, balance.wallet, str(balance.total)) == (asset, "spot:main", str(total))
    assert balance.ts_exchange is not None


# -- replies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [2, 3, 5, 35, 36, 37, 43, 44, 45, 49, 52, 53, 56, 57, 59, 61, 63])
def test_successful_replies_to_requests_this_codec_did_not_send_yield_nothing(number: int) -> None:
    """Acknowledgements confirm what ``executions`` shows; replies without a known ``req_id``
    cannot name an order's symbol or side."""
    assert decoded(number) == []


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (6, "subscribe refused: ESession:Invalid session"),
        (7, "subscribe refused: Public market data subscriptions are unavailable on this endpoint. Try ws.kraken.com"),
        (8, "a request refused: Malformed request"),
        (
            38,
            "add_order refused: EGeneral:Invalid arguments:no_mpp order option is only available when ordertype = market",
        ),
        (39, "add_order refused: Cash_order_qty field must be a number_float"),
        (40, "add_order refused: EGeneral:Permission denied"),
        (41, "add_order refused: EGeneral:Invalid arguments:volume minimum not met"),
        (46, "amend_order refused: Limit_price field must be a number_float"),
        (47, "amend_order refused: EOrder:Unknown order"),
        (50, "edit_order refused: Token(s) not found"),
        (54, "cancel_order refused: EOrder:Unknown order"),
    ],
)
def test_refusals_no_order_is_known_for_are_errors(number: int, text: str) -> None:
    (error,) = decoded(number)
    assert isinstance(error, ErrorEvent)
    assert error.message == text and error.raw == line(number)


def test_placed_order_is_pending_new_with_the_venues_id() -> None:
    codec = KrakenPrivateCodec()
    frame = codec.add_order(USDC_IOC, Secret("aToken"))
    (update,) = events_of(codec, reply_to(frame, 35))
    assert isinstance(update, OrderUpdate)
    assert (update.state, update.venue_order_id, update.symbol, update.side) == (
        "pending_new",
        "OPS23M-VS41G-DDE5Z2",
        "USDC/USD",
        "buy",
    )
    assert (update.qty, update.price, update.filled_qty, update.order_type) == (
        Decimal("5.0"),
        Decimal("0.95"),
        0,
        "limit",
    )
    assert update.ts_exchange == 1_716_033_950_300_542_000
    assert events_of(codec, reply_to(frame, 35)) == []  # the request is answered


@pytest.mark.parametrize("number", [38, 39, 40, 41])
def test_refused_order_is_rejected_with_the_venues_text(number: int) -> None:
    codec = KrakenPrivateCodec()
    order = msgspec.structs.replace(USDC_IOC, client_order_id="mine")
    frame = codec.add_order(order, Secret("aToken"))
    (update,) = events_of(codec, reply_to(frame, number))
    assert isinstance(update, OrderUpdate)
    assert (update.state, update.reason, update.client_order_id) == (
        "rejected",
        json.loads(line(number))["error"],
        "mine",
    )
    assert update.venue_order_id is None and update.filled_qty == 0


def test_batch_add_reply_names_each_order_in_order() -> None:
    codec = KrakenPrivateCodec()
    frame = encode_line(60, codec)
    updates = of_type(OrderUpdate, events_of(codec, reply_to(frame, 61)))
    assert [(u.venue_order_id, u.price, u.state) for u in updates] == [
        ("JQDNTT-MZEIZ-OZKUDD", Decimal("0.99"), "pending_new"),
        ("X67GEK-3VQWM-HPNQ89", Decimal("0.95"), "pending_new"),
    ]


def test_reply_after_the_execution_changes_nothing() -> None:
    """``executions`` may report the order before its reply arrives."""
    codec = KrakenPrivateCodec()
    frame = codec.add_order(USDC_IOC, Secret("aToken"))
    pending = json.loads(line(24))
    pending["data"][0]["order_id"] = "OPS23M-VS41G-DDE5Z2"
    events_of(codec, json.dumps(pending))
    assert events_of(codec, reply_to(frame, 35)) == []


def test_later_sparse_updates_of_a_placed_order_know_its_symbol() -> None:
    codec = KrakenPrivateCodec()
    frame = codec.add_order(USDC_IOC, Secret("aToken"))
    events_of(codec, reply_to(frame, 35))
    cancel = json.loads(line(26))
    cancel["data"][0]["order_id"] = "OPS23M-VS41G-DDE5Z2"
    (update,) = events_of(codec, json.dumps(cancel))
    assert isinstance(update, OrderUpdate)
    assert (update.state, update.symbol, update.qty, update.reason) == (
        "canceled",
        "USDC/USD",
        Decimal("5.0"),
        "User requested",
    )


# -- hostile input ----------------------------------------------------------------------------

RECEIVED = [n for n in range(1, 64) if n not in SENT]


@given(garbage=st.one_of(st.binary(max_size=200), st.text(max_size=200)), number=st.sampled_from(RECEIVED))
def test_garbage_never_breaks_the_next_frame(garbage: bytes | str, number: int) -> None:
    codec = KrakenPrivateCodec()
    with contextlib.suppress(WireValueError):
        codec.decode_frame(garbage, NS)
    assert codec.decode_frame(line(number), NS) == KrakenPrivateCodec().decode_frame(line(number), NS)


@given(cut=st.integers(1, 2000), number=st.sampled_from([10, 11, 12, 17, 28, 31]))
def test_a_frame_that_fails_midway_leaves_no_trace(cut: int, number: int) -> None:
    """A truncated frame, or one whose last row breaks, changes no order and no fill."""
    message = json.loads(line(number))
    message["data"].append({"order_id": "X", "exec_type": "trade", "asset": "Y", "balance": "NaN"})
    codec = KrakenPrivateCodec()
    for broken in (line(number)[: cut % len(line(number))], json.dumps(message)):
        with contextlib.suppress(WireValueError):
            codec.decode_frame(broken, NS)
    assert codec.decode_frame(line(number), NS) == KrakenPrivateCodec().decode_frame(line(number), NS)


# -- what the account session reads: answers and snapshot ends ----------------------------------


def answers(*numbers: int) -> list[Answer]:
    return of_type(Answer, decoded_all(*numbers))  # type: ignore[arg-type]


def test_replies_are_answers_with_what_each_method_reports() -> None:
    assert answers(56) == [Answer(0, "cancel_all", True, count=0)]
    assert answers(57) == []  # no req_id: nothing to match it to
    assert answers(63) == [Answer(0, "batch_cancel", True, count=2)]
    (armed,) = answers(59)
    assert armed.trigger_ns == 1_716_146_545_000_000_000  # 2024-05-19T19:22:25Z


def test_a_placement_answer_carries_the_orders_it_settles() -> None:
    codec = KrakenPrivateCodec()
    frame = codec.add_order(USDC_IOC, Secret("aToken"))
    *events, answer = codec.decode_frame(reply_to(frame, 35), NS)
    assert isinstance(answer, Answer) and answer.ok and answer.req_id == frame.req_id
    assert list(answer.updates) == events and [u.state for u in answer.updates] == ["pending_new"]


def test_a_placement_answer_after_its_executions_carries_the_order_as_they_left_it() -> None:
    codec = KrakenPrivateCodec()
    frame = codec.add_order(USDC_IOC, Secret("aToken"))
    placed = codec.decode_frame(reply_to(frame, 35), NS)
    order_id = of_type(OrderUpdate, placed)[0].venue_order_id  # type: ignore[arg-type]
    again = codec.add_order(USDC_IOC, Secret("aToken"))
    message = json.loads(reply_to(again, 35))
    message["result"]["order_id"] = order_id
    (answer,) = codec.decode_frame(json.dumps(message), NS)  # known already: no second pending_new
    assert isinstance(answer, Answer) and [u.venue_order_id for u in answer.updates] == [order_id]


def test_a_forgotten_placement_is_not_settled_by_a_late_reply() -> None:
    codec = KrakenPrivateCodec()
    frame = codec.add_order(USDC_IOC, Secret("aToken"))
    codec.forget_requests()
    (answer,) = codec.decode_frame(reply_to(frame, 35), NS)
    assert isinstance(answer, Answer) and answer.updates == ()


def test_snapshots_end_with_a_marker_naming_the_open_orders() -> None:
    assert decoded_all(9)[-1] == SnapshotDone("orders", ())
    ends = of_type(SnapshotDone, decoded_all(10))  # type: ignore[arg-type]
    assert len(ends) == 1 and ends[0].channel == "orders"
    balance_snapshots = [n for n in range(1, 64) if n not in SENT and '"balances","type":"snapshot"' in line(n)]
    assert balance_snapshots
    for number in balance_snapshots:
        assert decoded_all(number)[-1] == SnapshotDone("balances")


def test_a_cancel_of_several_orders_expects_a_reply_for_each() -> None:
    frame = KrakenPrivateCodec().cancel_order(Secret("t"), client_order_ids=["a", "b", "c"])
    assert frame.replies == 3


@pytest.mark.parametrize(
    ("error", "token", "rate"),
    [
        ("EAPI:Invalid token", True, False),
        ("ESession:Invalid session", True, False),
        ("EOrder:Rate limit exceeded", False, True),
        ("EOrder:Insufficient funds", False, False),
    ],
)
def test_refusals_are_classified(error: str, token: bool, rate: bool) -> None:
    codec = KrakenPrivateCodec()
    assert (codec.token_rejected(error), codec.rate_limited(error)) == (token, rate)


def test_public_instrument_and_status_frames_on_the_private_socket_decode() -> None:
    codec = KrakenPrivateCodec()
    frames = codec.subscribe_private(Secret("t"))
    assert [json.loads(f.text)["params"]["channel"] for f in frames] == ["executions", "balances", "instrument"]
    assert len({f.req_id for f in frames}) == 3
    instrument_lines = fixture_lines("kraken/v2_instrument.jsonl")
    events = [e for text in instrument_lines for e in codec.decode_frame(text, NS)]
    assert any(type(e).__name__ == "Instrument" for e in events)
    assert codec.decode_frame('{"channel":"heartbeat"}', NS) == []
