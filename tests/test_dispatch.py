"""The frame dispatcher: bad frames cost only themselves, follow-ups land after their cause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import adapters
from schemas import BookInvalidated, ErrorEvent, Event, Subscription, Trade
from sdk.dispatch import FrameDispatcher
from sdk.feed import FeedStats

TRADE = b'[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]'


class RaisingCodec:
    """A third-party codec that breaks the contract: its ``decode`` raises."""

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def decode(self, frame: bytes | str, received_ns: int) -> list[Event]:
        raise RuntimeError("broken codec")

    def ping(self) -> str | None:
        return None


class Setup:
    """A dispatcher for adapter ``x`` and everything it reports to."""

    def __init__(self, codec: Any, handlers: dict[type, Any] | None = None) -> None:
        self.stats = FeedStats()
        self.invalidated: list[BookInvalidated] = []
        self.last_data: dict[str, int] = {}
        self.dispatch = FrameDispatcher(
            "x",
            codec,
            handlers=handlers or {},
            on_invalidated=self.invalidated.append,
            last_data=self.last_data,
            counts=self.stats,
        ).decode


def test_a_bad_frame_becomes_an_error_event_between_good_ones() -> None:
    setup = Setup(adapters.get("kraken-v1").new_codec())
    events = setup.dispatch([TRADE, b'[0,[["not a number"]],"trade","XBT/USD"]', TRADE], 7)
    assert [type(event) for event in events] == [Trade, ErrorEvent, Trade]
    error = events[1]
    assert isinstance(error, ErrorEvent)
    assert error.exchange == "kraken-v1"
    assert error.message.startswith("undecodable frame: ")
    assert error.raw == '[0,[["not a number"]],"trade","XBT/USD"]'
    assert (setup.stats.frames, setup.stats.events) == (3, 3)


def test_a_codec_that_raises_is_reported_under_the_adapter_name() -> None:
    setup = Setup(RaisingCodec())
    [error] = setup.dispatch([b"anything"], 7)
    assert isinstance(error, ErrorEvent)
    assert (error.exchange, error.message, error.raw) == ("x", "codec raised RuntimeError: broken codec", "anything")
    assert setup.stats.frames == 1


def test_follow_ups_come_right_after_their_cause_and_invalidations_are_reported() -> None:
    invalid = BookInvalidated(exchange="x", symbol="BTC/USD", reason="crossed", ts_received=7)
    setup = Setup(adapters.get("kraken-v1").new_codec(), {Trade: lambda _: invalid})
    events = setup.dispatch([TRADE, TRADE], 7)
    assert [type(event) for event in events] == [Trade, BookInvalidated, Trade, BookInvalidated]
    assert setup.invalidated == [invalid, invalid]


def test_symbols_with_data_are_noted_alive() -> None:
    setup = Setup(adapters.get("kraken-v1").new_codec())
    setup.dispatch([TRADE], 42)
    assert setup.last_data == {"BTC/USD": 42}
