"""The pre-trade check refuses what Kraken's instrument data says the venue will reject, and only that."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import Instrument, OrderRequest
from schemas.trading import InvalidOrder, OrderKind
from sdk import registry, subscriptions, testing
from sdk.errors import PreTradeRefused
from sdk.pretrade import check_order
from tests.conftest import fixture_lines


def kraken_instruments() -> dict[str, Instrument]:
    """The pairs of the captured Kraken v2 instrument snapshot, as the Kraken codec decodes them."""
    codec = registry.get("kraken").new_codec()
    codec.subscribe([subscriptions.instruments()])
    [line] = fixture_lines("kraken/v2_instrument.jsonl")
    return {e.symbol: e for e in testing.decode(codec, line, 0) if isinstance(e, Instrument)}


INSTRUMENTS = kraken_instruments()
EUR_USD = INSTRUMENTS["EUR/USD"]  # 5 price decimals by 0.00001, 8 qty decimals, qty_min 0.5, cost_min 0.50
ETH_BTC = INSTRUMENTS["ETH/BTC"]  # 5 price decimals by 0.00001, 8 qty decimals, qty_min 0.002, cost_min 0.00002


def limit(**fields: Any) -> OrderRequest:
    """A limit order for EUR/USD that the captured instrument data allows, changed by ``fields``."""
    defaults: dict[str, Any] = {
        "symbol": "EUR/USD",
        "side": "buy",
        "order_type": "limit",
        "qty": Decimal("10"),
        "price": Decimal("1.08501"),
    }
    return OrderRequest(**{**defaults, **fields})


def market(**fields: Any) -> OrderRequest:
    return OrderRequest(**{"symbol": "EUR/USD", "side": "sell", "order_type": "market", "qty": Decimal("10"), **fields})


def refused(order: OrderRequest, instrument: Instrument | None = EUR_USD, **options: Any) -> PreTradeRefused:
    with pytest.raises(PreTradeRefused) as caught:
        check_order(order, instrument, **options)
    return caught.value


def test_the_capture_holds_the_values_the_tests_rely_on() -> None:
    assert (EUR_USD.price_precision, EUR_USD.price_increment) == (5, Decimal("0.00001"))
    assert (EUR_USD.qty_precision, EUR_USD.qty_increment) == (8, Decimal("0.00000001"))
    assert (EUR_USD.qty_min, EUR_USD.cost_min, EUR_USD.status) == (Decimal("0.5"), Decimal("0.5"), "online")
    assert (ETH_BTC.qty_min, ETH_BTC.cost_min) == (Decimal("0.002"), Decimal("0.00002"))


def test_an_order_within_every_limit_passes() -> None:
    check_order(limit(), EUR_USD)
    check_order(market(), EUR_USD, reference_price=Decimal("1.08"))
    check_order(market(qty=None, quote_qty=Decimal("0.5")), EUR_USD)
    check_order(
        OrderRequest(
            symbol="ETH/BTC", side="sell", order_type="stop_loss_limit", qty=Decimal("0.002"),
            price=Decimal("0.05102"), stop_price=Decimal("0.05110"),
        ),
        ETH_BTC,
    )  # fmt: skip


def test_a_refusal_is_an_invalid_order_naming_symbol_value_and_limit() -> None:
    error = refused(limit(qty=Decimal("0.4")))
    assert isinstance(error, InvalidOrder)
    assert (error.rule, error.symbol) == ("qty_min", "EUR/USD")
    assert str(error) == "qty_min: EUR/USD: qty 0.4 is below the minimum 0.50000000"


def test_symbol_unknown() -> None:
    error = refused(limit(symbol="LSK/XBT"), None)
    assert error.rule == "symbol_unknown"
    assert "LSK/XBT" in str(error)


def test_instrument_data_for_another_pair_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="ETH/BTC's, not EUR/USD's"):
        check_order(limit(), ETH_BTC)


def with_status(status: str) -> Instrument:
    return msgspec.structs.replace(EUR_USD, status=status)


@pytest.mark.parametrize("status", ["cancel_only", "maintenance", "delisted", "work_in_progress", "halted_for_ever"])
def test_statuses_that_refuse_every_new_order(status: str) -> None:
    for order in (limit(), limit(post_only=True), limit(reduce_only=True), market()):
        error = refused(order, with_status(status))
        assert error.rule == "symbol_not_tradable"
        assert status in str(error)


@pytest.mark.parametrize(
    ("status", "allowed", "refused_orders"),
    [
        ("online", [limit(), market(), limit(post_only=True)], []),
        ("post_only", [limit(post_only=True)], [limit(), market(), limit(reduce_only=True)]),
        (
            "limit_only",
            [limit(), limit(order_type="take_profit_limit", stop_price=Decimal("1.09"))],
            [market(), market(order_type="stop_loss", stop_price=Decimal("1.07"))],
        ),
        ("reduce_only", [limit(reduce_only=True), market(reduce_only=True)], [limit(), market()]),
    ],
)
def test_statuses_that_allow_some_orders(
    status: str, allowed: list[OrderRequest], refused_orders: list[OrderRequest]
) -> None:
    for order in allowed:
        check_order(order, with_status(status))
    for order in refused_orders:
        assert refused(order, with_status(status)).rule == "symbol_not_tradable"


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (limit(price=Decimal("1.085012")), "price 1.085012 has 6 decimals; at most 5 are allowed"),
        (
            limit(order_type="stop_loss_limit", stop_price=Decimal("1.0800001")),
            "stop_price 1.0800001 has 7 decimals; at most 5 are allowed",
        ),
    ],
)
def test_price_precision_counts_decimals(order: OrderRequest, message: str) -> None:
    error = refused(order)
    assert error.rule == "price_precision"
    assert str(error) == f"price_precision: EUR/USD: {message}"


def test_price_precision_trailing_zeros_do_not_count() -> None:
    check_order(limit(price=Decimal("1.0850000000")), EUR_USD)


def test_price_precision_wants_a_multiple_of_the_increment() -> None:
    coarse = msgspec.structs.replace(EUR_USD, price_increment=Decimal("0.00005"))
    check_order(limit(price=Decimal("1.08505")), coarse)
    error = refused(limit(price=Decimal("1.08501")), coarse)
    assert error.rule == "price_precision"
    assert "1.08501 is not a multiple of the increment 0.00005" in str(error)


def test_qty_precision() -> None:
    assert refused(limit(qty=Decimal("10.000000001"))).rule == "qty_precision"
    lots = msgspec.structs.replace(EUR_USD, qty_increment=Decimal("0.5"))
    check_order(limit(qty=Decimal("10.5")), lots)
    error = refused(limit(qty=Decimal("10.25")), lots)
    assert error.rule == "qty_precision"
    assert "qty 10.25 is not a multiple of the increment 0.5" in str(error)


def test_qty_min() -> None:
    check_order(limit(qty=Decimal("0.5")), EUR_USD)
    assert refused(limit(qty=Decimal("0.49999999"))).rule == "qty_min"


def test_cost_min_of_a_limit_order_is_qty_times_price() -> None:
    check_order(limit(qty=Decimal("0.5"), price=Decimal("1")), EUR_USD)
    error = refused(limit(qty=Decimal("0.5"), price=Decimal("0.99999")))
    assert error.rule == "cost_min"
    assert str(error) == "cost_min: EUR/USD: the order's cost 0.499995 USD is below the minimum 0.50"


def test_cost_min_of_a_market_order_by_quote_quantity_is_that_quantity() -> None:
    assert refused(market(qty=None, quote_qty=Decimal("0.49"))).rule == "cost_min"


def test_cost_min_of_a_market_order_needs_a_reference_price() -> None:
    small = market(qty=Decimal("0.5"))
    check_order(small, EUR_USD)  # no reference price: the cost cannot be known, so it is not checked
    check_order(small, EUR_USD, reference_price=Decimal("1.00"))
    assert refused(small, reference_price=Decimal("0.9")).rule == "cost_min"


def on_grid(increment: Decimal, minimum: Decimal) -> st.SearchStrategy[Decimal]:
    """Multiples of ``increment`` from ``minimum`` up, printed with trailing zeros or without."""
    first = (minimum / increment).to_integral_value(rounding=ROUND_CEILING)
    return st.builds(
        lambda steps, zeros: (steps * increment).quantize(increment.scaleb(-zeros)),
        st.integers(max(int(first), 1), int(first) + 10**9),
        st.integers(0, 3),
    )


@given(st.sampled_from(sorted(INSTRUMENTS)), st.data())
def test_any_order_on_the_grid_above_the_minimums_passes(symbol: str, data: st.DataObject) -> None:
    instrument = INSTRUMENTS[symbol]
    assert instrument.price_increment and instrument.qty_increment and instrument.qty_min and instrument.cost_min
    price = data.draw(on_grid(instrument.price_increment, instrument.price_increment))
    qty = data.draw(on_grid(instrument.qty_increment, max(instrument.qty_min, instrument.cost_min / price)))
    kinds: tuple[OrderKind, ...] = ("limit", "stop_loss_limit", "market", "stop_loss")
    kind = data.draw(st.sampled_from(kinds))
    order = OrderRequest(
        symbol=symbol,
        side=data.draw(st.sampled_from(["buy", "sell"])),
        order_type=kind,
        qty=qty,
        price=price if kind.endswith("limit") else None,
        stop_price=data.draw(on_grid(instrument.price_increment, instrument.price_increment))
        if kind.startswith("stop")
        else None,
    )
    check_order(order, instrument, reference_price=price)


@given(st.sampled_from(sorted(INSTRUMENTS)), st.integers(1, 10**12).filter(lambda n: n % 10), st.integers(0, 3))
def test_a_price_with_one_decimal_too_many_is_refused(symbol: str, digits: int, extra_zeros: int) -> None:
    instrument = INSTRUMENTS[symbol]
    price = Decimal(digits).scaleb(-(instrument.price_precision + 1))
    order = OrderRequest(
        symbol=symbol, side="buy", order_type="limit", qty=Decimal(1000),
        price=price.quantize(price.scaleb(-extra_zeros)),
    )  # fmt: skip
    with pytest.raises(PreTradeRefused) as caught:
        check_order(order, instrument)
    assert caught.value.rule == "price_precision"
