"""What an adapter can serve, checked before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from schemas.subscription import Channel, Subscription


class UnsupportedSubscription(ValueError):
    """A request the adapter cannot serve; the message names what it supports."""


class Capabilities(msgspec.Struct, frozen=True, kw_only=True):
    """Channels an adapter serves, with the book depths and candle intervals it accepts.

    ``wildcard`` lists channels that accept the symbol ``*``.
    """

    channels: frozenset[Channel]
    book_depths: tuple[int, ...] = ()
    candle_intervals: tuple[str, ...] = ()
    wildcard: frozenset[Channel] = frozenset()

    def check(self, exchange: str, subscription: Subscription) -> None:
        """Raise ``UnsupportedSubscription`` unless ``subscription`` can be served."""
        if subscription.channel not in self.channels:
            raise UnsupportedSubscription(
                f"{exchange} has no {subscription.channel!r} channel; it serves {_listing(sorted(self.channels))}"
            )
        every = subscription.symbol == "*" and subscription.channel != "instruments"  # reference data is for all
        if every and subscription.channel not in self.wildcard:
            allowed = f"it can for {_listing(sorted(self.wildcard))}" if self.wildcard else "it never can"
            raise UnsupportedSubscription(
                f"{exchange} cannot subscribe every symbol ('*') on {subscription.channel!r}; {allowed}"
            )
        if subscription.channel == "book" and subscription.depth not in self.book_depths:
            raise UnsupportedSubscription(
                f"{exchange} cannot serve a book of depth {subscription.depth}; depths are {_listing(self.book_depths)}"
            )
        if subscription.channel == "candles" and subscription.interval not in self.candle_intervals:
            raise UnsupportedSubscription(
                f"{exchange} has no {subscription.interval} candles; intervals are {_listing(self.candle_intervals)}"
            )


def _listing(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)
