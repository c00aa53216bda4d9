"""What a feed is subscribed to, and where each subscription stands.

Sans-I/O bookkeeping owned by the feed session: the active subscriptions (what a reconnect
re-sends), each one's state, the acknowledgements still awaited and since when each symbol has been
quiet. Every state change goes through one transition table, so a subscription can only move the
ways the table allows. Times are monotonic seconds passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, Literal

from schemas.subscription import Subscription
from sdk.subscriptions import EVERY_SYMBOL

SubscriptionState = Literal["pending", "active", "failed", "unsubscribed"]
Stream = tuple[str, str]
"""(channel, symbol): what liveness is tracked by."""
Transition = Literal["requested", "acknowledged", "refused", "cancelled", "reconnected"]

TRANSITIONS: Final[dict[tuple[SubscriptionState | None, Transition], SubscriptionState]] = {
    (None, "requested"): "pending",
    ("failed", "requested"): "pending",
    ("unsubscribed", "requested"): "pending",
    ("pending", "acknowledged"): "active",
    ("active", "acknowledged"): "active",
    ("pending", "refused"): "failed",
    ("active", "refused"): "failed",
    ("pending", "cancelled"): "unsubscribed",
    ("active", "cancelled"): "unsubscribed",
    ("pending", "reconnected"): "pending",
    ("active", "reconnected"): "pending",
}
"""(state, what happened) -> next state. Anything else (a late ack after an unsubscribe, a refusal
of something never asked for) changes nothing."""


def stream_of(subscription: Subscription) -> Stream:
    return (subscription.channel, subscription.symbol)


class SubscriptionLedger:
    """Active subscriptions in request order, with their states, ack deadlines and liveness."""

    def __init__(self, *, ack_timeout: float, stale_after: float) -> None:
        self.ack_timeout = ack_timeout
        self.stale_after = stale_after
        self._active: dict[Subscription, None] = {}
        self._states: dict[Subscription, SubscriptionState] = {}
        self._verify: dict[Subscription, bool] = {}
        self._awaiting: dict[Subscription, float] = {}
        self._reported_stale: set[Subscription] = set()
        self.last_data: dict[Stream, float] = {}
        """When each stream last brought an event (monotonic seconds); the session writes it per frame."""

    def __iter__(self) -> Iterator[Subscription]:
        return iter(self._active)

    def __contains__(self, subscription: object) -> bool:
        return subscription in self._active

    def __bool__(self) -> bool:
        return bool(self._active)

    def state(self, subscription: Subscription) -> SubscriptionState | None:
        return self._states.get(subscription)

    def verify(self, subscription: Subscription) -> bool:
        """Whether this book subscription's checksums are checked."""
        return self._verify.get(subscription, True)

    def book_subscription(self, symbol: str, depth: int) -> Subscription | None:
        """The active book subscription covering ``symbol`` at ``depth``: its own, or an every-symbol one."""
        for candidate in (symbol, EVERY_SYMBOL):
            subscription = Subscription(channel="book", symbol=candidate, depth=depth)
            if subscription in self._active:
                return subscription
        return None

    def _move(self, subscription: Subscription, transition: Transition) -> bool:
        after = TRANSITIONS.get((self._states.get(subscription), transition))
        if after is None:
            return False
        self._states[subscription] = after
        return True

    def add(self, subscriptions: Iterable[Subscription], *, verify: bool = True) -> list[Subscription]:
        """Record new subscriptions (duplicates and active ones ignored); returns the new ones, pending."""
        new = [s for s in dict.fromkeys(subscriptions) if s not in self._active]
        for subscription in new:
            self._active[subscription] = None
            self._verify[subscription] = verify
            self._move(subscription, "requested")
        return new

    def remove(self, subscriptions: Iterable[Subscription]) -> list[Subscription]:
        """Cancel subscriptions the user no longer wants; returns the ones that were active."""
        known = [s for s in dict.fromkeys(subscriptions) if s in self._active]
        for subscription in known:
            self._move(subscription, "cancelled")
            self._drop(subscription)
        return known

    def refused(self, subscription: Subscription) -> bool:
        """The exchange refused it: failed, and no longer re-sent. False if it was not asked for."""
        if not self._move(subscription, "refused"):
            return False
        self._drop(subscription)
        return True

    def acknowledged(self, subscription: Subscription) -> None:
        self._awaiting.pop(subscription, None)
        if subscription in self._active:
            self._move(subscription, "acknowledged")

    def reconnected(self) -> list[Subscription]:
        """A new connection: every active subscription is pending again; returns them to re-send."""
        for subscription in self._active:
            self._move(subscription, "reconnected")
        return list(self._active)

    def sent(self, subscriptions: Iterable[Subscription], now: float) -> float | None:
        """Their requests just left: each must be acknowledged by ``now + ack_timeout``.

        Returns that deadline, or None when none of them still awaits an acknowledgement.
        """
        deadline = now + self.ack_timeout
        started = False
        for subscription in subscriptions:
            if self._states.get(subscription) == "pending" and subscription in self._active:
                self._awaiting[subscription] = deadline
                self.last_data.setdefault(stream_of(subscription), now)
                started = True
        return deadline if started else None

    def disconnected(self) -> None:
        """Nothing awaits an acknowledgement on a connection that is gone."""
        self._awaiting.clear()

    def next_ack_deadline(self) -> float | None:
        return min(self._awaiting.values(), default=None)

    def overdue(self, now: float) -> list[Subscription]:
        """Subscriptions whose acknowledgement is late; each is reported once (and stays pending)."""
        late = [s for s, deadline in self._awaiting.items() if deadline <= now]
        for subscription in late:
            del self._awaiting[subscription]
        return late

    def next_stale_check(self) -> float | None:
        """When the quietest reportable subscription would become stale."""
        times = [
            last
            for s in self._active
            if s not in self._reported_stale
            and s.symbol != EVERY_SYMBOL
            and (last := self.last_data.get(stream_of(s))) is not None
        ]
        return min(times) + self.stale_after if times else None

    def pause(self, seconds: float) -> None:
        """Nothing was read for ``seconds`` (the consumer held the reader up): that silence is not the streams'."""
        for stream in self.last_data:
            self.last_data[stream] += seconds

    def newly_stale(self, now: float) -> list[tuple[Subscription, float]]:
        """Subscriptions whose stream was quiet for ``stale_after`` and not reported yet, with how long (seconds).

        Liveness is per stream (channel and symbol): a book that stops while the same symbol's
        trades flow is stale. Every-symbol subscriptions are never reported.
        """
        stale = []
        for subscription in self._active:
            last = self.last_data.get(stream_of(subscription))
            if last is None:
                continue
            silent_for = now - last
            if silent_for < self.stale_after:
                self._reported_stale.discard(subscription)  # data is flowing (again)
            elif subscription not in self._reported_stale and subscription.symbol != EVERY_SYMBOL:
                self._reported_stale.add(subscription)
                stale.append((subscription, silent_for))
        return stale

    def _drop(self, subscription: Subscription) -> None:
        """Stop tracking a subscription."""
        self._active.pop(subscription, None)
        self._awaiting.pop(subscription, None)
        self._reported_stale.discard(subscription)
