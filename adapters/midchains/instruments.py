"""The pairs Midchains lists and the grid each trades on: the one table the account's pre-trade
check and the simulator's matching both read, so the check never passes what the venue refuses.

Midchains serves no instrument data on its socket (FII's ``get_instrument`` is not known to be
offered), so the account cannot learn increments or minimums from the venue. The pairs are the
ones the venue lists (Bitcoin, Bitcoin Cash, Ether and Litecoin against the US dollar). Assumed
(no document states them; a recorded session settles them by editing ``PAIRS``): each pair's
price increment ``tick`` and quantity increment ``lot``, the smallest quantity being one lot and
no minimum order value. The venue refuses an order off this grid with its own text (assumed too:
``adapters.midchains.trading_simulator``'s refusals).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from schemas.events import Instrument


@dataclass(frozen=True, slots=True)
class Pair:
    """A listed pair and its grid: prices are whole ``tick``s, quantities whole ``lot``s of at least one."""

    symbol: str
    tick: Decimal
    lot: Decimal

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]


PAIRS: Final = (
    Pair("BTC/USD", Decimal("0.1"), Decimal("0.0001")),
    Pair("BCH/USD", Decimal("0.01"), Decimal("0.001")),
    Pair("ETH/USD", Decimal("0.01"), Decimal("0.001")),
    Pair("LTC/USD", Decimal("0.01"), Decimal("0.001")),
)


def places(step: Decimal) -> int:
    """Decimal places of an increment: ``0.01`` has 2."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def listed_instruments(exchange: str, received_ns: int) -> list[Instrument]:
    """Reference data for every listed pair, open for trading, stamped ``received_ns``."""
    return [
        Instrument(
            exchange=exchange,
            symbol=pair.symbol,
            base=pair.base,
            quote=pair.quote,
            status="online",
            price_precision=places(pair.tick),
            qty_precision=places(pair.lot),
            price_increment=pair.tick,
            qty_increment=pair.lot,
            qty_min=pair.lot,
            ts_received=received_ns,
        )
        for pair in PAIRS
    ]
