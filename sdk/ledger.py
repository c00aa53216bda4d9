"""What a feed is subscribed to, and where each subscription stands.

Sans-I/O bookkeeping for the feed: the active subscriptions (what a reconnect re-sends), each one's
state, the acknowledgements still awaited and since when each symbol has been quiet. The feed
turns what this reports (overdue acknowledgements, stale streams) into events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

from schemas.subscription import Subscription

SubscriptionState = Literal["pending", "active", "failed", "unsubscribed"]


class SubscriptionLedger:
    """Active subscriptions in request order, with their states and liveness."""

    def __init__(self, *, ack_timeout: float, stale_after: float) -> None:
        self.ack_timeout = ack_timeout
        self.stale_after_ns = int(stale_after * 1e9)
        self._active: dict[Subscription, None] = {}
        self._states: dict[Subscription, SubscriptionState] = {}
        self._awaiting: dict[Subscription, float] = {}
        self._reported_stale: set[Subscription] = set()
        self._books: dict[str, Subscription] = {}
        self.last_data: dict[str, int] = {}
        """When each symbol last brought an event (wall-clock ns); the feed writes it per frame."""

    def __iter__(self) -> Iterator[Subscription]:
        return iter(self._active)

    def __contains__(self, subscription: object) -> bool:
        return subscription in self._active

    def __bool__(self) -> bool:
        return bool(self._active)

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        return self._states.get(subscription)

    def book_subscription(self, symbol: str) -> Subscription | None:
        """The book subscription covering ``symbol``: its own, or an every-symbol (``*``) one."""
        return self._books.get(symbol) or self._books.get("*")

    def add(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        """Record new subscriptions (duplicates and known ones ignored); returns the new ones."""
        new = [s for s in dict.fromkeys(subscriptions) if s not in self._active]
        self._active.update(dict.fromkeys(new))
        for subscription in new:
            if subscription.channel == "book":
                self._books[subscription.symbol] = subscription
        return new

    def remove(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        """Drop subscriptions the user cancelled; returns the ones that were active."""
        known = [s for s in dict.fromkeys(subscriptions) if s in self._active]
        for subscription in known:
            self.forget(subscription)
            self._states[subscription] = "unsubscribed"
        return known

    def forget(self, subscription: Subscription) -> bool:
        """Stop tracking a subscription; True if it was a book subscription."""
        self._active.pop(subscription, None)
        self._awaiting.pop(subscription, None)
        if self._books.get(subscription.symbol) == subscription:
            del self._books[subscription.symbol]
            return True
        return False

    def expect_acks(self, subscriptions: Iterable[Subscription], now: float, now_ns: int) -> None:
        """These were just requested: pending until acknowledged by ``now + ack_timeout``."""
        deadline = now + self.ack_timeout
        for subscription in subscriptions:
            self._awaiting[subscription] = deadline
            self._states[subscription] = "pending"
            self.last_data.setdefault(subscription.symbol, now_ns)

    def acknowledged(self, subscription: Subscription) -> None:
        self._awaiting.pop(subscription, None)
        if subscription in self._active:
            self._states[subscription] = "active"

    def refused(self, subscription: Subscription) -> None:
        self._awaiting.pop(subscription, None)
        if subscription in self._active:
            self._states[subscription] = "failed"

    def overdue(self, now: float) -> list[Subscription]:
        """Subscriptions whose acknowledgement is late; each is reported once."""
        late = [s for s, deadline in self._awaiting.items() if deadline <= now]
        for subscription in late:
            del self._awaiting[subscription]
        return late

    def newly_stale(self, now_ns: int) -> list[tuple[Subscription, int]]:
        """Subscriptions quiet for ``stale_after`` and not reported yet, with how long (ns)."""
        stale = []
        for subscription in self._active:
            silent_for = now_ns - self.last_data.get(subscription.symbol, now_ns)
            if silent_for < self.stale_after_ns:
                self._reported_stale.discard(subscription)  # data is flowing (again)
            elif subscription not in self._reported_stale and subscription.symbol != "*":
                self._reported_stale.add(subscription)
                stale.append((subscription, silent_for))
        return stale
