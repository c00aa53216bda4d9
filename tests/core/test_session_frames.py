"""The session's per-frame path with a real codec: bad frames cost only themselves, follow-ups land after their cause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sdk
from schemas import BookInvalidated, BookSnapshot, BookUpdate, ErrorEvent, Event, Subscription, Trade
from sdk import registry
from sdk.contract import Codec
from sdk.session import FeedSession
from sdk.symbols import AliasedSymbols
from sdk.testing import of
from tests.core.toy import toy_adapter

TRADE = b'[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]'


class RaisingCodec(Codec):
    """A third-party codec whose ``decode_frame`` raises on every frame."""

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        raise RuntimeError("broken codec")


def test_a_bad_frame_becomes_an_error_event_between_good_ones() -> None:
    session = FeedSession(registry.get("kraken-v1"))
    events = session.receive([TRADE, b'[0,[["not a number"]],"trade","XBT/USD"]', TRADE], 0.0, 7)
    assert [type(event) for event in events] == [Trade, ErrorEvent, Trade]
    error = events[1]
    assert isinstance(error, ErrorEvent)
    assert error.exchange == "kraken-v1"
    assert error.message.startswith("undecodable frame: ")
    assert error.raw == '[0,[["not a number"]],"trade","XBT/USD"]'
    assert (session.stats.frames, session.stats.events, session.stats.errors) == (3, 3, 1)


def test_a_codec_that_raises_is_reported_under_the_adapter_name() -> None:
    session = FeedSession(replace(toy_adapter(), name="x", codec=RaisingCodec, symbols=AliasedSymbols({})))
    [error] = session.receive([b"anything"], 0.0, 7)
    assert isinstance(error, ErrorEvent)
    assert (error.exchange, error.message, error.raw) == ("x", "undecodable frame: RuntimeError: broken codec", "anything")
    assert session.stats.frames == 1


def test_an_invalidation_comes_right_after_the_update_that_caused_it() -> None:
    session = FeedSession(registry.get("kraken-v1"))
    session.subscribe([sdk.book("BTC/USD")])
    snapshot = (
        b'[0,{"as":[["5541.30000","2.50700000","1534614248.123678"]],'
        b'"bs":[["5541.20000","1.52900000","1534614248.765567"]]},"book-10","XBT/USD"]'
    )
    unchecked = b'[0,{"b":[["5541.10000","1.00000000","1534614248.900000"]]},"book-10","XBT/USD"]'
    events = session.receive([snapshot, unchecked, TRADE], 0.0, 7)
    assert [type(event) for event in events] == [BookSnapshot, BookUpdate, BookInvalidated, Trade]
    [invalid] = of(BookInvalidated, events)
    assert invalid.reason == "unverifiable"  # Kraken checksums every update: one without cannot be trusted
    assert not session.orderbook("BTC/USD").valid
