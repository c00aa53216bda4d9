"""Which subscriptions each request carried, so replies name what they confirm or refuse.

Venues answer a subscribe request in their own way: Kraken v2 echoes a request id, Kraken v1 echoes
the subscription, Midchains echoes its request items or starts sending data. A codec records each
request it sends under whatever key the venue's reply will bring back, and hands the reply to the
tracker, which answers with the shared events: ``Subscribed``, ``Unsubscribed`` or
``SubscriptionError`` naming the subscription. Memory is bounded: the oldest requests are
forgotten once ``limit`` are outstanding (their replies are then treated as unknown).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Final, Generic, TypeVar

from schemas.events import Event, Subscribed, SubscriptionError, Unsubscribed
from schemas.subscription import Subscription

Key = TypeVar("Key", bound=Hashable)

REMEMBERED_REQUESTS: Final = 1024
"""Requests kept awaiting a reply by default; older ones are forgotten."""


class RequestTracker(Generic[Key]):
    """Outstanding (un)subscribe requests of one connection, by the key the venue echoes.

    Several requests may share a key (Midchains keys by message and security, so a book and a
    quotes subscription both wait on ``("book", symbol)``); each subscription remembers whether it
    was being subscribed or unsubscribed.
    """

    def __init__(self, exchange: str, limit: int = REMEMBERED_REQUESTS) -> None:
        self._exchange = exchange
        self._limit = limit
        self._pending: OrderedDict[Key, list[tuple[Subscription, bool]]] = OrderedDict()

    def __len__(self) -> int:
        """How many keys have requests awaiting a reply."""
        return len(self._pending)

    def sent(self, key: Key, subscriptions: Iterable[Subscription], *, unsubscribe: bool = False) -> None:
        """Remember that a request under ``key`` (un)subscribes ``subscriptions``."""
        waiting = self._pending.setdefault(key, [])
        waiting.extend((subscription, unsubscribe) for subscription in subscriptions)
        while len(self._pending) > self._limit:
            self._pending.popitem(last=False)

    def acknowledged(
        self,
        key: Key | None,
        received_ns: int,
        *,
        unsubscribe: bool = False,
        symbol: str | None = None,
        echoed: Subscription | None = None,
        warnings: tuple[str, ...] = (),
    ) -> list[Event]:
        """Events for a successful reply to the request(s) under ``key``.

        Only ``symbol``'s subscriptions are confirmed when the reply names one. A reply matching
        nothing outstanding (a request from before a reconnect, or forgotten) confirms ``echoed``,
        the subscription the venue echoed, if it did.
        """
        matched = self._take(key, symbol, unsubscribe)
        if not matched and echoed is not None:
            matched = [echoed]
        if unsubscribe:
            return [
                Unsubscribed(exchange=self._exchange, symbol=s.symbol, subscription=s, ts_received=received_ns)
                for s in matched
            ]
        return [
            Subscribed(
                exchange=self._exchange, symbol=s.symbol, subscription=s, warnings=warnings, ts_received=received_ns
            )
            for s in matched
        ]

    def refused(
        self,
        key: Key | None,
        message: str,
        received_ns: int,
        *,
        unsubscribe: bool | None = None,
        symbol: str | None = None,
        echoed: Subscription | None = None,
    ) -> list[SubscriptionError]:
        """One ``SubscriptionError`` per subscription the venue refused under ``key``.

        ``unsubscribe`` says which kind of request was refused, when the reply tells (None: either).
        With nothing outstanding to name, the error names ``echoed`` if given, else only ``symbol``.
        """
        matched: list[Subscription | None] = list(self._take(key, symbol, unsubscribe))
        if not matched:
            matched = [echoed]
        return [
            SubscriptionError(
                exchange=self._exchange,
                symbol=s.symbol if s is not None else symbol,
                subscription=s,
                message=message,
                ts_received=received_ns,
            )
            for s in matched
        ]

    def _take(self, key: Key | None, symbol: str | None, unsubscribe: bool | None) -> list[Subscription]:
        """Remove and return what ``key`` awaits for ``symbol`` (every symbol if None) and kind."""
        if key is None:
            return []
        waiting = self._pending.get(key)
        if not waiting:
            return []
        taken: list[Subscription] = []
        kept: list[tuple[Subscription, bool]] = []
        for subscription, leaving in waiting:
            wanted = (symbol is None or subscription.symbol == symbol) and unsubscribe in (None, leaving)
            if wanted:
                taken.append(subscription)
            else:
                kept.append((subscription, leaving))
        if kept:
            self._pending[key] = kept
        else:
            del self._pending[key]
        return taken
