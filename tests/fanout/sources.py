"""Events for the fan-out tests: venue trades, each with its own id."""

from __future__ import annotations

from decimal import Decimal

from schemas.events import Event, Trade


def trades(count: int, *, exchange: str = "kraken", symbol: str = "BTC/USD", first: int = 1) -> list[Event]:
    """``count`` distinct trades, as a venue sends them: each with its own trade id."""
    return [
        Trade(
            exchange=exchange,
            symbol=symbol,
            ts_exchange=1_700_000_000_000_000_000 + number,
            ts_received=1_700_000_000_000_000_000 + number,
            price=Decimal("50000.1") + number,
            qty=Decimal("0.00100000"),
            side="buy" if number % 2 else "sell",
            trade_id=str(number),
        )
        for number in range(first, first + count)
    ]
