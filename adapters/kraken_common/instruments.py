"""The instruments both Kraken simulators list, with their tick and lot sizes (simulators only)."""

from __future__ import annotations

from decimal import Decimal

from sdk.simulation.market import Instrument

QTY_DECIMALS = 8
COST_MIN = Decimal("0.5")
"""The smallest order value (in the quote asset) every pair accepts, as v2's instrument channel publishes it."""

INSTRUMENTS = [
    Instrument("BTC/USD", Decimal("30000"), Decimal("0.1"), Decimal("0.0001")),
    Instrument("ETH/USD", Decimal("2000"), Decimal("0.01"), Decimal("0.001")),
    Instrument("BTC/EUR", Decimal("28000"), Decimal("0.1"), Decimal("0.0001")),
    Instrument("ETH/BTC", Decimal("0.06"), Decimal("0.00001"), Decimal("0.001")),
    Instrument("SOL/USD", Decimal("100"), Decimal("0.01"), Decimal("0.01")),
    Instrument("XRP/USD", Decimal("0.5"), Decimal("0.00001"), Decimal("1")),
    Instrument("DOGE/USD", Decimal("0.1"), Decimal("0.0000001"), Decimal("1")),
]


def price_decimals(instrument: Instrument) -> int:
    """Decimal places of the instrument's price increment (v2's ``price_precision``)."""
    exponent = instrument.tick.as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent
