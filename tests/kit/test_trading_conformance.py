"""Every trading adapter passes the trading conformance suite; the trading strategies make valid values."""

from __future__ import annotations

import functools
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import Instrument
from schemas.trading import Balance, Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.orders import FINAL, apply
from sdk.pretrade import check_order
from sdk.testing import TradingConformance, balances, fills, instrument_orders, order_lifecycles

pytestmark = pytest.mark.loopback  # the suite trades with each adapter's simulator


class TestKrakenTradingConformance(TradingConformance):
    adapter_name = "kraken"
    symbol = "BTC/USD"


class TestMidchainsTradingConformance(TradingConformance):
    adapter_name = "midchains"
    symbol = "BCH/USD"


KRAKEN_BTC = Instrument(
    exchange="kraken", symbol="BTC/USD", base="BTC", quote="USD", status="online", price_precision=1,
    qty_precision=8, price_increment=Decimal("0.1"), qty_increment=Decimal("0.00000001"),
    qty_min=Decimal("0.0001"), cost_min=Decimal("0.5"), ts_received=0,
)  # fmt: skip
COARSE = Instrument(
    exchange="x", symbol="DOGE/USD", base="DOGE", quote="USD", status="online", price_precision=7,
    qty_precision=0, qty_min=Decimal(5), cost_min=Decimal(1), ts_received=0,
)  # fmt: skip


@pytest.mark.parametrize("instrument", [KRAKEN_BTC, COARSE], ids=["increments", "precisions only"])
@given(data=st.data())
def test_generated_orders_pass_the_pre_trade_check(instrument: Instrument, data: st.DataObject) -> None:
    reference = data.draw(st.none() | st.integers(1, 10**6).map(lambda ticks: ticks * Decimal("0.1")))
    order = data.draw(instrument_orders(instrument, reference))
    check_order(order, instrument, reference_price=reference)
    assert msgspec.json.decode(msgspec.json.encode(order), type=OrderRequest) == order


@given(order_lifecycles())
def test_generated_lifecycles_follow_the_transition_table(updates: list[OrderUpdate]) -> None:
    order = functools.reduce(apply, updates, None)
    assert order is not None and order.state == updates[-1].state
    final = [n for n, update in enumerate(updates) if update.state in FINAL]
    assert not final or all(u.state == updates[final[0]].state for u in updates[final[0] :])


@given(st.one_of(fills(), balances()))
def test_generated_fills_and_balances_are_valid_schema_values(event: Fill | Balance) -> None:
    assert msgspec.json.decode(msgspec.json.encode(event), type=TradingEvent) == event
    if isinstance(event, Balance):
        assert event.total >= 0 and (event.available is None or event.available <= event.total)
    else:
        assert event.qty > 0 and event.price > 0 and event.fee >= 0
