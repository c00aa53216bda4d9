"""The conformance suite catches contract bugs: each one planted as a one-line change makes its check fail.

Every planted adapter is a built-in one with one thing wrong (its codec wrapped with one method
overridden, or one field of the record replaced); the unmodified adapters pass the same checks in
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
from sdk.contract import Adapter, ChecksumScheme, Codec
from sdk.symbols import SymbolMap
from sdk.testing import AdapterConformance

pytestmark = pytest.mark.loopback


class Altered(Codec):
    """A built-in codec with one behaviour changed: it delegates to the real codec, and a subclass
    overrides one method (compiled codecs cannot be subclassed in Python, so they are wrapped)."""

    built_in: ClassVar[type[Codec]]

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__(exchange, symbols)
        self.inner = self.built_in(exchange, symbols)

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = self.inner.decode_frame(frame, received_ns)
        self.reconnect_reason = self.inner.reconnect_reason
        return events

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return self.inner.subscribe(subscriptions)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return self.inner.unsubscribe(subscriptions)

    def ping(self) -> str | None:
        return self.inner.ping()

    def book_checksum(self, symbol: str) -> ChecksumScheme | None:
        return self.inner.book_checksum(symbol)

    def resume(self, previous: Codec) -> None:
        self.inner.resume(previous.inner if isinstance(previous, Altered) else previous)


class NeverConfirms(Altered):
    built_in = KrakenV1Codec

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        return [e for e in super().decode_frame(frame, received_ns) if type(e) is not Subscribed]


class AnonymousRefusals(Altered):
    built_in = MidchainsCodec

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        return [msgspec.structs.replace(e, subscription=None) if type(e) is SubscriptionError else e for e in events]


class UnsubscribeSendsNothing(Altered):
    built_in = MidchainsCodec

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []


class IgnoresTheDepth(Altered):
    built_in = KrakenCodec

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        return [msgspec.structs.replace(e, depth=10) if type(e) in (BookSnapshot, BookUpdate) else e for e in events]


class DropsAskUpdates(Altered):
    built_in = MidchainsCodec

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        return [msgspec.structs.replace(e, asks=()) if type(e) is BookUpdate else e for e in events]


class HardCodedName(Altered):
    built_in = MidchainsCodec

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__("midchains", symbols)


class WireNames:
    """A symbol map that sends shared symbols translated but hands wire symbols back untranslated."""

    def __init__(self, symbols: SymbolMap) -> None:
        self.to_wire = symbols.to_wire

    def from_wire(self, wire: str) -> str:
        return wire


class WireSymbols(Altered):
    built_in = KrakenV1Codec

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__(exchange, WireNames(symbols))


class UnsubscribeSkipsBooks(Altered):
    built_in = KrakenV1Codec

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return super().unsubscribe([s for s in subscriptions if s.channel != "book"])


class AssumesReferenceDataSurvives(Altered):
    """After a reconnect it no longer asks for the instrument channel, as if that survived."""

    built_in = KrakenCodec
    resumed = False

    def resume(self, previous: Codec) -> None:
        super().resume(previous)
        self.resumed = True

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        frames = super().subscribe(subscriptions)
        return [f for f in frames if not (self.resumed and '"channel":"instrument"' in f)]


class TakerSideFlipped(Altered):
    built_in = MidchainsCodec

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = super().decode_frame(frame, received_ns)
        flip = {"buy": "sell", "sell": "buy"}
        return [msgspec.structs.replace(e, side=flip[e.side]) if type(e) is Trade and e.side else e for e in events]


class NoChecksumScheme(Altered):
    built_in = KrakenV1Codec

    def book_checksum(self, symbol: str) -> None:
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
        codec("kraken", IgnoresTheDepth), "test_books_match_the_market_at_every_depth", "depth 25"
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
