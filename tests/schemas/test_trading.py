"""The trading schema: JSON round trips, requests that refuse to contradict themselves, a current JSON Schema."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import Fill, InvalidOrder, OrderKind, OrderRequest, OrderUpdate, TimeInForce, TradingEvent
from schemas.jsonschema import TRADING_SCHEMA_PATH, render_trading
from schemas.trading import LIMIT_PRICED, TRIGGERED
from sdk.testing import order_requests, trading_events, wire_decimals


def test_committed_trading_schema_is_current() -> None:
    assert TRADING_SCHEMA_PATH.read_text(encoding="utf-8") == render_trading(), "run: xfeeds schema --write"


def test_trading_schema_lists_every_trading_event_and_defines_the_request() -> None:
    schema = msgspec.json.decode(TRADING_SCHEMA_PATH.read_bytes())
    names = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["anyOf"]}
    assert names == {t.__name__ for t in get_args(TradingEvent)}
    assert "OrderRequest" in schema["$defs"]


@given(trading_events())
def test_every_trading_event_round_trips_through_json(event: TradingEvent) -> None:
    wire = msgspec.json.encode(event)
    assert msgspec.json.decode(wire, type=TradingEvent) == event
    assert b'"type":"' + type(event).__name__.encode() in wire


@given(order_requests())
def test_order_requests_round_trip_through_json(request: OrderRequest) -> None:
    assert msgspec.json.decode(msgspec.json.encode(request), type=OrderRequest) == request


def test_amounts_keep_their_wire_digits() -> None:
    fill = Fill(
        exchange="kraken",
        symbol="BTC/USDT",
        fill_id="TMMPIN-ECDGJ-PNJZIQ",
        venue_order_id="OHS47E-VEKOV-BTNQES",
        trade_id="10563454",
        side="buy",
        qty=Decimal("0.00010000"),
        price=Decimal("89961.1"),
        fee=Decimal("0.03598"),
        fee_asset="USDT",
        liquidity="taker",
        ts_received=1,
    )
    wire = msgspec.json.encode(fill)
    assert b'"qty":"0.00010000"' in wire
    assert msgspec.json.decode(wire, type=TradingEvent) == fill


LIMIT = {"symbol": "BTC/USD", "side": "buy", "order_type": "limit", "qty": Decimal("1"), "price": Decimal("100")}
MARKET = {"symbol": "BTC/USD", "side": "sell", "order_type": "market", "qty": Decimal("1")}
STOP = {**MARKET, "order_type": "stop_loss", "stop_price": Decimal("90")}

REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({**LIMIT, "symbol": ""}, "symbol_given"),
    ({**LIMIT, "qty": None}, "one_quantity"),
    ({**MARKET, "quote_qty": Decimal("10")}, "one_quantity"),
    ({**LIMIT, "qty": Decimal("0")}, "positive_numbers"),
    ({**LIMIT, "price": Decimal("-1")}, "positive_numbers"),
    ({**LIMIT, "qty": Decimal("NaN")}, "positive_numbers"),
    ({**STOP, "stop_price": Decimal("Infinity")}, "positive_numbers"),
    ({**LIMIT, "qty": None, "quote_qty": Decimal("10")}, "quote_qty_market_only"),
    ({**LIMIT, "price": None}, "limit_needs_price"),
    ({**LIMIT, "order_type": "stop_loss_limit", "stop_price": Decimal("95"), "price": None}, "limit_needs_price"),
    ({**MARKET, "price": Decimal("100")}, "market_takes_no_price"),
    ({**STOP, "stop_price": None}, "trigger_needs_stop_price"),
    ({**LIMIT, "order_type": "take_profit_limit"}, "trigger_needs_stop_price"),
    ({**LIMIT, "stop_price": Decimal("90")}, "stop_price_needs_trigger"),
    ({**LIMIT, "time_in_force": "gtd"}, "gtd_needs_expire_time"),
    ({**LIMIT, "expire_time": 1}, "expire_time_needs_gtd"),
    ({**MARKET, "post_only": True}, "post_only_needs_limit"),
    ({**STOP, "post_only": True}, "post_only_needs_limit"),
    ({**LIMIT, "post_only": True, "time_in_force": "ioc"}, "post_only_rests"),
    ({**LIMIT, "post_only": True, "time_in_force": "fok"}, "post_only_rests"),
    ({**LIMIT, "client_order_id": "  "}, "client_order_id_not_blank"),
]


@pytest.mark.parametrize(("fields", "rule"), REFUSALS, ids=[rule for _, rule in REFUSALS])
def test_contradictory_requests_are_refused_naming_the_rule(fields: dict[str, Any], rule: str) -> None:
    with pytest.raises(InvalidOrder, match=f"^{rule}: ") as refused:
        OrderRequest(**fields)
    assert refused.value.rule == rule


def test_a_contradictory_request_is_refused_when_decoded_too() -> None:
    wire = msgspec.json.encode({"symbol": "BTC/USD", "side": "buy", "order_type": "limit", "qty": "1"})
    with pytest.raises(msgspec.ValidationError, match="limit_needs_price"):
        msgspec.json.decode(wire, type=OrderRequest)


@pytest.mark.parametrize(
    "fields",
    [
        LIMIT,
        MARKET,
        STOP,
        {**MARKET, "qty": None, "quote_qty": Decimal("25.5")},
        {**LIMIT, "post_only": True, "time_in_force": "gtd", "expire_time": 1_700_000_000_000_000_000},
        {**LIMIT, "order_type": "take_profit_limit", "stop_price": Decimal("120"), "reduce_only": True},
        {**LIMIT, "time_in_force": "fok", "client_order_id": "b17c7bb34d000200", "validate_only": True},
    ],
)
def test_consistent_requests_are_accepted(fields: dict[str, Any]) -> None:
    assert OrderRequest(**fields).symbol == "BTC/USD"


maybe_decimal = st.none() | wire_decimals() | st.sampled_from([Decimal("-1"), Decimal("NaN"), Decimal("Infinity")])


@given(
    st.fixed_dictionaries(
        {
            "symbol": st.sampled_from(["BTC/USD", ""]),
            "side": st.sampled_from(["buy", "sell"]),
            "order_type": st.sampled_from(get_args(OrderKind)),
            "qty": maybe_decimal,
            "quote_qty": maybe_decimal,
            "price": maybe_decimal,
            "stop_price": maybe_decimal,
            "time_in_force": st.sampled_from(get_args(TimeInForce)),
            "expire_time": st.none() | st.integers(0, 2**62),
            "post_only": st.booleans(),
            "reduce_only": st.booleans(),
            "client_order_id": st.none() | st.sampled_from(["", " ", "id-1"]),
            "validate_only": st.booleans(),
        }
    )
)
def test_every_accepted_request_keeps_every_rule(fields: dict[str, Any]) -> None:
    """Whatever the fields, a request is either refused with a named rule or consistent by every rule."""
    request = built(fields)
    if isinstance(request, InvalidOrder):
        assert request.rule in {rule for _, rule in REFUSALS}
        return
    kind = request.order_type
    assert request.symbol
    assert (request.qty is None) != (request.quote_qty is None)
    amounts = [request.qty, request.quote_qty, request.price, request.stop_price]
    assert all(value.is_finite() and value > 0 for value in amounts if value is not None)
    assert request.quote_qty is None or kind == "market"
    assert (request.price is not None) == (kind in LIMIT_PRICED)
    assert (request.stop_price is not None) == (kind in TRIGGERED)
    assert (request.expire_time is not None) == (request.time_in_force == "gtd")
    assert not request.post_only or (kind in LIMIT_PRICED and request.time_in_force in ("gtc", "gtd"))
    assert request.client_order_id is None or request.client_order_id.strip()


def built(fields: dict[str, Any]) -> OrderRequest | InvalidOrder:
    """The request, or the refusal constructing it raised."""
    try:
        return OrderRequest(**fields)
    except InvalidOrder as refused:
        return refused


def test_order_updates_are_immutable() -> None:
    update = OrderUpdate(exchange="kraken", symbol="BTC/USD", side="buy", state="new", filled_qty=Decimal(0), ts_received=1)
    with pytest.raises(AttributeError):
        update.state = "filled"  # type: ignore[misc]
