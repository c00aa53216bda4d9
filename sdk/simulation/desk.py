"""A simulator's trading venue, shared by every connection, and the fault switches of its trading side.

The desk outlives connections (orders keep filling while their owner is away) and hands the
matching engine's records to every connection's private session, which renders those of its own
account. The fault switches are the same on every venue: a lost order reply, rate-limit refusals,
held fills, a forced fill, and a count of every order received (a client must never send one twice).
Each venue's desk says how its sessions recognise an order and words its rate-limit refusal.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from sdk.simulation.market import MarketStep, Side
from sdk.simulation.matching import MatchingEngine, OrderSpec, Record


@dataclass(frozen=True)
class OrderTerms:
    """What an order asks for, without a client id: how an order is recognised where none is echoed."""

    symbol: str
    side: Side
    qty: Decimal | None
    price: Decimal | None = None
    quote_qty: Decimal | None = None

    @classmethod
    def of(cls, spec: OrderSpec) -> OrderTerms:
        return cls(spec.symbol, spec.side, spec.qty, spec.price, spec.quote_qty)


class Subscriber(Protocol):
    """A connection's private side: it renders the records of its account and drops the rest."""

    def deliver(self, records: list[Record]) -> None: ...


SessionT = TypeVar("SessionT", bound=Subscriber)


class TradingDesk(Generic[SessionT]):
    """The engine, the sessions it reports to, and the trading fault switches' state."""

    def __init__(self, engine: MatchingEngine, *, rate_limit_error: str) -> None:
        self.engine = engine
        self.rate_limit_error = rate_limit_error
        """The venue's refusal of a request over its rate limit."""
        self.sessions: weakref.WeakSet[SessionT] = weakref.WeakSet()
        self.drop_after_add_order = False
        """Cut the connection that sends the next order, once it is placed, before its reply."""
        self.rejections: list[str] = []
        """Errors for the next rate-limited requests, one each."""
        self.orders_received: Counter[str | OrderTerms] = Counter()
        """Orders received, whatever their fate, per client order id and per terms."""

    def publish(self, records: list[Record]) -> None:
        """Hand ``records`` to every session."""
        if records:
            for session in list(self.sessions):
                session.deliver(records)

    def tick(self, steps: list[MarketStep], now_ns: int) -> None:
        self.publish(self.engine.tick(steps, now_ns))

    def received(self, client_id: str | None, terms: OrderTerms | None = None) -> None:
        """Count one order as received (before any check: refused orders count too)."""
        self.orders_received.update(key for key in (client_id, terms) if key is not None)

    def next_rejection(self) -> str | None:
        """The error the next rate-limited request gets from the fault switch, or None."""
        return self.rejections.pop(0) if self.rejections else None

    def drops_reply(self) -> bool:
        """Whether the order just placed loses its reply (the switch then resets)."""
        drop, self.drop_after_add_order = self.drop_after_add_order, False
        return drop


class TradingFaults:
    """The trading fault switches, as methods of a simulator that has a ``desk``."""

    desk: TradingDesk[Any]

    def drop_after_next_order(self) -> None:
        """Cut the connection that sends the next order once the order is placed, before its reply
        or any update is sent: an order whose outcome is unknown."""
        self.desk.drop_after_add_order = True

    def reject_orders(self, count: int, error: str | None = None) -> None:
        """Refuse the next ``count`` order requests (placements, amends, cancels; never queries or
        subscriptions) with ``error`` (default: the venue's rate-limit refusal)."""
        self.desk.rejections += [error or self.desk.rate_limit_error] * count

    def hold_fills(self) -> None:
        """Keep fills from being reported (they still happen) until ``release_fills``."""
        self.desk.engine.hold_fills()

    def release_fills(self) -> int:
        """Report every held fill (and what followed it); returns how many records were held."""
        records = self.desk.engine.release_fills()
        self.desk.publish(records)
        return len(records)

    def force_fill(self, order_id: str, qty: Decimal, price: Decimal) -> None:
        """Fill ``qty`` of open order ``order_id`` at ``price`` as a maker, now."""
        engine = self.desk.engine
        order = next((o for o in engine.open_orders_of_all() if o.venue_id == order_id), None)
        if order is None:
            raise KeyError(f"no open order {order_id}")
        self.desk.publish(engine.force_fill(order, qty, price, time.time_ns()))

    def orders_received(self, key: str | OrderTerms) -> int:
        """How many orders with this client order id (or these terms) the venue received,
        whatever became of them."""
        return self.desk.orders_received[key]
