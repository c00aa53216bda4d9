"""Which subscriptions hold each wire stream, where several share one.

Some venues serve several of a user's subscriptions from one stream on the wire: Midchains derives
quotes and every book depth of a security from its one ``book`` stream. Such a stream is requested
once, when the first subscription needing it arrives, and cancelled once, when the last one leaves;
the others only attach and detach, or they would restart or end the stream the rest still read.

One case asks for the venue's stream again: a subscription that left a stream others kept, and
comes back. That is how the feed resyncs a book (an unsubscribe, then a subscribe), and what it
needs is the venue's fresh snapshot, so the codec renews the stream (cancels and requests it again).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, Literal, TypeVar

from schemas.subscription import Subscription

Key = TypeVar("Key", bound=Hashable)

Join = Literal["first", "shared", "again"]
"""How a subscription joined its wire stream: ``first`` (request the stream), ``shared`` (already
requested: nothing to send), ``again`` (it left while others held the stream: renew the stream)."""


class WireStreams(Generic[Key]):
    """Reference counts of a connection's wire streams, by the key a codec names each one with."""

    def __init__(self) -> None:
        self._holders: dict[Key, dict[Subscription, None]] = {}
        self._left: dict[Key, set[Subscription]] = {}
        """Subscriptions that left each stream while others held it, since it was last requested."""

    def attach(self, key: Key, subscription: Subscription) -> Join:
        """``subscription`` now reads the stream ``key``; says what the venue must be sent."""
        holders = self._holders.setdefault(key, {})
        first = not holders
        holders[subscription] = None
        if first:
            return "first"
        left = self._left.get(key)
        if left is not None and subscription in left:
            del self._left[key]  # the renewed stream starts over for every holder
            return "again"
        return "shared"

    def detach(self, key: Key, subscription: Subscription) -> bool:
        """``subscription`` no longer reads ``key``; True when it was the last, so the stream is cancelled.

        A subscription that did not hold the stream changes nothing (False).
        """
        holders = self._holders.get(key)
        if holders is None or subscription not in holders:
            return False
        del holders[subscription]
        if holders:
            self._left.setdefault(key, set()).add(subscription)
            return False
        del self._holders[key]
        self._left.pop(key, None)
        return True

    def holders(self, key: Key) -> list[Subscription]:
        """The subscriptions reading ``key``, in the order they attached."""
        return list(self._holders.get(key, ()))

    def __contains__(self, key: object) -> bool:
        """Whether the stream ``key`` is requested (some subscription holds it)."""
        return key in self._holders
