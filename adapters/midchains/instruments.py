"""The pairs a Midchains account may trade, as the pre-trade check's reference data.

Midchains serves no instrument data on its socket (FII's ``get_instrument`` is not known to be
offered), so the account cannot learn precisions or minimums from the venue. These are the pairs
the venue lists (Bitcoin, Bitcoin Cash, Ether and Litecoin against the US dollar), with no limits
beyond ``PLACES`` decimals: the pre-trade check refuses only a pair not listed, and the venue
judges the rest, answering with its own text.
"""

from __future__ import annotations

from typing import Final

from schemas.events import Instrument

PAIRS: Final = ("BTC/USD", "BCH/USD", "ETH/USD", "LTC/USD")
PLACES: Final = 8
"""Decimal places allowed in prices and quantities: no crypto pair has more."""


def listed_instruments(exchange: str, received_ns: int) -> list[Instrument]:
    """Reference data for every listed pair, open for trading, stamped ``received_ns``."""
    return [
        Instrument(
            exchange=exchange,
            symbol=symbol,
            base=symbol.split("/")[0],
            quote=symbol.split("/")[1],
            status="online",
            price_precision=PLACES,
            qty_precision=PLACES,
            ts_received=received_ns,
        )
        for symbol in PAIRS
    ]
