"""The conformance suite catches contract bugs: each one planted as a one-line change makes its check fail.

Every planted adapter is a built-in one with one thing wrong (a codec subclass overriding one
method, or one field of the record replaced); the unmodified adapters pass the same checks in
``test_conformance.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import ClassVar, NamedTuple

import msgspec
import pytest

from adapters.kraken.codec import KrakenCodec
from adapters.kraken_v1.codec import KrakenV1Codec
from adapters.midchains.codec import MidchainsCodec
from adapters.midchains.symbols import QUOTES, ConcatenatedSymbols
from schemas.events import BookSnapshot, BookUpdate, Event, Subscribed, SubscriptionError, Trade
from schemas.subscription import Subscription
from sdk import registry
from sdk.capabilities import Capabilities
from sdk.contract import Adapter, Codec
from sdk.symbols import SymbolMap
from sdk.testing import AdapterConformance


class NeverConfirms(KrakenV1Codec):
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        return [e for e in super().decode_frame(frame, received_ns) if type(e) is not Subscribed]


class AnonymousRefusals(MidchainsCodec):
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        return [msgspec.structs.replace(e, subscription=None) if type(e) is SubscriptionError else e for e in events]


class UnsubscribeSendsNothing(MidchainsCodec):
    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []


class IgnoresTheDepth(KrakenCodec):
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        return [msgspec.structs.replace(e, depth=10) if type(e) in (BookSnapshot, BookUpdate) else e for e in events]


class DropsAskUpdates(MidchainsCodec):
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        return [msgspec.structs.replace(e, asks=()) if type(e) is BookUpdate else e for e in events]


class HardCodedName(MidchainsCodec):
    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__("midchains", symbols)


class WireSymbols(KrakenV1Codec):
    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__(exchange, symbols)
        self._symbol_of = lambda wire: wire


class UnsubscribeSkipsBooks(KrakenV1Codec):
    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return super().unsubscribe([s for s in subscriptions if s.channel != "book"])


class AssumesReferenceDataSurvives(KrakenCodec):
    def resume(self, previous: Codec) -> None:
        self._instruments_requested = True


class TakerSideFlipped(MidchainsCodec):
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        flip = {"buy": "sell", "sell": "buy"}
        return [msgspec.structs.replace(e, side=flip[e.side]) if type(e) is Trade and e.side else e for e in events]


class NoChecksumScheme(KrakenV1Codec):
    def book_checksum(self, symbol: str) -> None:  # type: ignore[override]
        return None


def codec(name: str, planted: Callable[[str, SymbolMap], Codec]) -> Adapter:
    return replace(registry.get(name), codec=planted)


MIDCHAINS = registry.get("midchains")


class Plant(NamedTuple):
    adapter: Adapter
    check: str
    """The conformance test method that must fail."""
    rule: str
    """What its assertion message says (a regular expression)."""


PLANTED: dict[str, Plant] = {
    "never confirms a subscription": Plant(
        codec("kraken-v1", NeverConfirms), "test_every_subscription_is_confirmed", "no Subscribed"
    ),
    "refusals name no subscription": Plant(
        codec("midchains", AnonymousRefusals), "test_refusals_name_the_subscription", "name no subscription"
    ),
    "unsubscribe sends nothing": Plant(
        codec("midchains", UnsubscribeSendsNothing), "test_unsubscribe_stops_the_data", "no Unsubscribed"
    ),
    "books ignore the depth": Plant(
        codec("kraken", IgnoresTheDepth), "test_books_match_the_market_at_every_depth", "at depth 25"
    ),
    "updates lose their asks": Plant(
        codec("midchains", DropsAskUpdates), "test_books_match_the_market_at_every_depth", "asks at depth"
    ),
    "books are never verified": Plant(
        codec("kraken-v1", NoChecksumScheme), "test_books_match_the_market_at_every_depth", "verified none"
    ),
    "a hard-coded exchange name": Plant(
        codec("midchains", HardCodedName), "test_events_carry_the_adapter_name_and_shared_symbols", "renamed to"
    ),
    "events carry the wire symbol": Plant(
        codec("kraken-v1", WireSymbols), "test_events_carry_the_adapter_name_and_shared_symbols", "never subscribed"
    ),
    "a resync that never completes": Plant(
        codec("kraken-v1", UnsubscribeSkipsBooks), "test_a_failed_checksum_is_resynced", "not resynced"
    ),
    "a book lost to a reconnect": Plant(
        codec("kraken", AssumesReferenceDataSurvives), "test_books_recover_after_a_reconnect", "after a reconnect"
    ),
    "trades with the maker's side": Plant(
        codec("midchains", TakerSideFlipped), "test_simulator_and_codec_agree", "side is the taker's"
    ),
    "symbols that do not round-trip": Plant(
        replace(MIDCHAINS, symbols=ConcatenatedSymbols([q for q in QUOTES if q != "EUR"])),
        "test_symbols_round_trip",
        "must give s back",
    ),
    "capabilities claiming a channel the codec lacks": Plant(
        replace(MIDCHAINS, capabilities=Capabilities(channels=frozenset({"trades", "ticker"}))),
        "test_capabilities_match_what_the_codec_accepts",
        "declare only what the codec serves",
    ),
}

SYMBOL = {"kraken": "BTC/USD", "kraken-v1": "BTC/USD", "midchains": "BCH/USD"}


class Planted(AdapterConformance):
    """The conformance suite run against one adapter that is not (necessarily) the registered one."""

    planted: ClassVar[Adapter]

    @property
    def adapter(self) -> Adapter:
        return self.planted


def suite_for(adapter: Adapter) -> AdapterConformance:
    attributes = {"planted": adapter, "adapter_name": adapter.name, "symbol": SYMBOL[adapter.name]}
    suite: type[AdapterConformance] = type(f"Suite_{adapter.name}", (Planted,), attributes)
    return suite()


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_the_suite_catches(bug: str) -> None:
    adapter, check, rule = PLANTED[bug]
    with pytest.raises(AssertionError, match=rule):
        getattr(suite_for(adapter), check)()


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_the_unmodified_adapter_passes_the_same_check(bug: str) -> None:
    adapter, check, _ = PLANTED[bug]
    getattr(suite_for(registry.get(adapter.name)), check)()
