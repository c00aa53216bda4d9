"""What a simulator that also trades offers its users: where an account connects, a test account,
and the trading fault switches, each with one meaning on every venue.

The trading conformance suite (``sdk.testing.TradingConformance``), the exchange-agnostic tests and
``xfeeds account --simulate`` all drive a venue's simulator through this one protocol.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, runtime_checkable

from sdk.credentials import Credentials
from sdk.simulation.market import SyntheticMarket

VENUE_HOOKS = (
    "auth_url",
    "rest_url",
    "credentials",
    "market",
    "drop_connections",
    "drop_after_next_order",
    "reject_orders",
    "force_fill",
    "orders_received",
    "issued_secrets",
)
"""What ``TradingVenue`` asks of a simulator, checked by name before a check runs."""


@runtime_checkable
class TradingVenue(Protocol):
    """The fault switches and records a trading simulator offers the suite, with one meaning on
    every venue (a ``sdk.simulation.Simulator`` that also trades)."""

    market: SyntheticMarket
    """The market its orders match against (the suite prices resting orders from its touch)."""

    @property
    def auth_url(self) -> str:
        """The socket an account connects to."""

    @property
    def rest_url(self) -> str:
        """The REST base tokens and order lookups come from (any loopback URL for an in-band venue)."""

    @property
    def credentials(self) -> Credentials:
        """A test account it has opened, funded to place small orders on every symbol."""

    async def drop_connections(self) -> None:
        """Close every client connection now (the venue and its orders stay)."""

    def drop_after_next_order(self) -> None:
        """Cut the connection that sends the next order once the order is placed, before its reply
        or any update is sent: an order whose outcome the client cannot know."""

    def reject_orders(self, count: int, error: str) -> None:
        """Refuse the next ``count`` order requests with ``error``, the venue's refusal text."""

    def force_fill(self, venue_order_id: str, qty: Decimal, price: Decimal) -> None:
        """Fill ``qty`` of an open order at ``price`` now, whether or not its owner is connected."""

    def orders_received(self, client_order_id: str) -> int:
        """How many orders with ``client_order_id`` reached the venue, whatever became of them."""

    def issued_secrets(self) -> list[str]:
        """Every secret the venue handed a client (session tokens): none may ever be shown."""

    async def __aenter__(self) -> TradingVenue: ...

    async def __aexit__(self, *exc_info: object) -> None: ...
