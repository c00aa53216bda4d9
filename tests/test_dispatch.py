"""The frame dispatcher: bad frames cost only themselves, follow-ups land after their cause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas import BookInvalidated, ErrorEvent, Event, Subscription, Trade
from sdk import registry
from sdk.contract import Codec
from sdk.dispatch import FrameDispatcher
from sdk.feed import FeedStats
from sdk.symbols import AliasedSymbols

TRADE = b'[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]'


class RaisingCodec(Codec):
    """A third-party codec whose ``decode_frame`` raises on every frame."""

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        raise RuntimeError("broken codec")


class Setup:
    """A dispatcher and everything it reports to."""

    def __init__(self, codec: Codec, handlers: dict[type, Any] | None = None) -> None:
        self.stats = FeedStats()
        self.invalidated: list[BookInvalidated] = []
        self.last_data: dict[str, int] = {}
        self.dispatch = FrameDispatcher(
            codec,
            handlers=handlers or {},
            on_invalidated=self.invalidated.append,
            last_data=self.last_data,
            counts=self.stats,
        ).decode


def test_a_bad_frame_becomes_an_error_event_between_good_ones() -> None:
    setup = Setup(registry.get("kraken-v1").new_codec())
    events = setup.dispatch([TRADE, b'[0,[["not a number"]],"trade","XBT/USD"]', TRADE], 7)
    assert [type(event) for event in events] == [Trade, ErrorEvent, Trade]
    error = events[1]
    assert isinstance(error, ErrorEvent)
    assert error.exchange == "kraken-v1"
    assert error.message.startswith("undecodable frame: ")
    assert error.raw == '[0,[["not a number"]],"trade","XBT/USD"]'
    assert (setup.stats.frames, setup.stats.events) == (3, 3)


def test_a_codec_that_raises_is_reported_under_the_adapter_name() -> None:
    setup = Setup(RaisingCodec("x", AliasedSymbols({})))
    [error] = setup.dispatch([b"anything"], 7)
    assert isinstance(error, ErrorEvent)
    assert (error.exchange, error.message, error.raw) == ("x", "undecodable frame: RuntimeError: broken codec", "anything")
    assert setup.stats.frames == 1


def test_follow_ups_come_right_after_their_cause_and_invalidations_are_reported() -> None:
    invalid = BookInvalidated(exchange="x", symbol="BTC/USD", reason="crossed", ts_received=7)
    setup = Setup(registry.get("kraken-v1").new_codec(), {Trade: lambda _: invalid})
    events = setup.dispatch([TRADE, TRADE], 7)
    assert [type(event) for event in events] == [Trade, BookInvalidated, Trade, BookInvalidated]
    assert setup.invalidated == [invalid, invalid]


def test_symbols_with_data_are_noted_alive() -> None:
    setup = Setup(registry.get("kraken-v1").new_codec())
    setup.dispatch([TRADE], 42)
    assert setup.last_data == {"BTC/USD": 42}
