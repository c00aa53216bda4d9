"""The adapter author's kit: hypothesis strategies for the shared schema, and a conformance suite.

An adapter's tests get the whole suite with a few lines::

    from sdk.testing import AdapterConformance

    class TestMyExchangeConformance(AdapterConformance):
        adapter_name = "myexchange"
        symbol = "BTC/USD"          # a symbol its simulator lists

It checks that arbitrary input never breaks decoding (a frame ``decode_frame`` raises on becomes
one ``ErrorEvent``, as in a feed), that decoded events are valid schema events, that symbols
round-trip through the adapter's mapping, that the capabilities match what the codec accepts, and
that the adapter's simulator and codec agree: the book and trades the codec decodes are the ones
the simulator's market holds. Needs the ``test`` extra (hypothesis, pytest).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import BookInvalidated, ErrorEvent, Event, Trade
from schemas.subscription import Subscription
from sdk import registry
from sdk.contract import Adapter, Codec, undecodable_frame
from sdk.feed import Feed
from sdk.source import EventSource
from sdk.subscriptions import book, candles, instruments, quotes, ticker, trades

ASSETS = ("BTC", "ETH", "USD", "EUR", "BCH", "LTC", "DOGE", "SOL", "USDT")


E = TypeVar("E")


def of(kind: type[E], events: Iterable[Event]) -> list[E]:
    """The events of one type, in order."""
    return [event for event in events if isinstance(event, kind)]


async def collect_until(
    source: EventSource, done: Callable[[list[Event]], bool], timeout: float = 10.0
) -> list[Event]:
    """Events from ``source`` until ``done(events)`` holds; ``TimeoutError`` after ``timeout`` seconds."""
    events: list[Event] = []
    with anyio.fail_after(timeout):
        async for event in source:
            events.append(event)
            if done(events):
                break
    return events


async def collect_for(source: EventSource, seconds: float) -> list[Event]:
    """Every event ``source`` delivers within ``seconds``."""
    events: list[Event] = []
    with anyio.move_on_after(seconds):
        async for event in source:
            events.append(event)
    return events


def decode(codec: Codec, frame: bytes | str, received_ns: int) -> list[Event]:
    """The events a feed delivers for one frame: the codec's, or one ``ErrorEvent`` if it raised."""
    try:
        return codec.decode_frame(frame, received_ns)
    except Exception as exc:
        return [undecodable_frame(codec, frame, exc, received_ns)]


def wire_decimals(max_places: int = 10) -> st.SearchStrategy[Decimal]:
    """Finite, non-negative Decimals as exchanges print them, trailing zeros included."""
    return st.builds(
        lambda digits, places: Decimal(digits).scaleb(-places),
        st.integers(0, 10**13),
        st.integers(0, max_places),
    )


def symbols(assets: typing.Sequence[str] = ASSETS) -> st.SearchStrategy[str]:
    """``BASE/QUOTE`` symbols with distinct assets."""
    return st.tuples(st.sampled_from(assets), st.sampled_from(assets)).filter(lambda p: p[0] != p[1]).map("/".join)


def subscriptions(adapter: Adapter, symbol: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Subscription]:
    """Requests ``adapter`` says it can serve."""
    caps = adapter.capabilities
    names = symbol or symbols()
    options: list[st.SearchStrategy[Subscription]] = []
    if "trades" in caps.channels:
        options.append(st.builds(trades, names))
    if "ticker" in caps.channels:
        options.append(st.builds(ticker, names))
    if "quotes" in caps.channels:
        options.append(st.builds(quotes, names))
    if "book" in caps.channels and caps.book_depths:
        options.append(st.builds(book, names, st.sampled_from(caps.book_depths)))
    if "candles" in caps.channels and caps.candle_intervals:
        options.append(st.builds(candles, names, st.sampled_from(caps.candle_intervals)))
    if "instruments" in caps.channels:
        options.append(st.just(instruments()))
    return st.one_of(options)


def events(kind: type[Any] | None = None) -> st.SearchStrategy[Event]:
    """Valid schema events, of one ``kind`` or of every kind, derived from the schema's own types."""
    kinds = [kind] if kind is not None else list(get_args(Event))
    return st.one_of([_strategy(k) for k in kinds])


def _strategy(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy for a schema type annotation (structs, Decimals, literals, unions, tuples)."""
    origin = get_origin(annotation)
    if annotation is Decimal:
        return wire_decimals()
    if annotation is int:
        return st.integers(0, 2**62)
    if annotation is str:
        return st.text(max_size=12)
    if annotation is bool:
        return st.booleans()
    if annotation is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_strategy(arg) for arg in get_args(annotation)])
    if origin is tuple:
        return st.lists(_strategy(get_args(annotation)[0]), max_size=4).map(tuple)
    if annotation is Subscription:
        return st.builds(trades, symbols())
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        hints = typing.get_type_hints(annotation)
        fields = {f.name: _strategy(hints[f.name]) for f in msgspec.structs.fields(annotation)}
        return st.fixed_dictionaries(fields).map(lambda values: annotation(**values))
    raise TypeError(f"no strategy for {annotation!r}")


_SHARED = settings(deadline=None, suppress_health_check=[HealthCheck.differing_executors])
"""Each subclass runs these methods as its own tests, which hypothesis would otherwise flag."""


class AdapterConformance:
    """Tests every adapter must pass; subclass it (as ``Test...``) and set the class attributes."""

    adapter_name: ClassVar[str]
    symbol: ClassVar[str]
    """A symbol the adapter's simulator lists."""
    activity: ClassVar[int] = 150
    """How many market events to observe from the simulator."""
    assets: ClassVar[tuple[str, ...]] = ASSETS
    """Asset codes the adapter's symbol mapping must round-trip."""

    @property
    def adapter(self) -> Adapter:
        return registry.get(self.adapter_name)

    @_SHARED
    @given(st.one_of(st.text(), st.binary()))
    def test_decode_never_raises(self, garbage: str | bytes) -> None:
        decoded = decode(self.adapter.new_codec(), garbage, 1)
        assert isinstance(decoded, list)
        assert all(isinstance(e, get_args(Event)) for e in decoded)

    @_SHARED
    @given(st.data())
    def test_symbols_round_trip(self, data: st.DataObject) -> None:
        symbol = data.draw(symbols(self.assets))
        mapping = self.adapter.symbols
        assert mapping.from_wire(mapping.to_wire(symbol)) == symbol

    @_SHARED
    @given(st.data())
    def test_capabilities_match_what_the_codec_accepts(self, data: st.DataObject) -> None:
        adapter = self.adapter
        requested = data.draw(st.lists(subscriptions(adapter), min_size=1, max_size=5))
        for subscription in requested:
            adapter.check(subscription)
        frames = adapter.new_codec().subscribe(requested)
        assert frames
        assert all(isinstance(frame, str) and frame for frame in frames)
        for channel in {"trades", "book", "ticker", "quotes", "candles"} - adapter.capabilities.channels:
            with pytest.raises(ValueError, match="has no"):
                adapter.check(Subscription(channel=channel, symbol=self.symbol))  # type: ignore[arg-type]

    def test_simulator_and_codec_agree(self) -> None:
        """What the simulator's market holds is what the codec decodes from its frames."""
        anyio.run(self._agreement)

    async def _agreement(self) -> None:
        adapter = self.adapter
        wanted = [trades(self.symbol), book(self.symbol, 10)]
        async with adapter.make_simulator(tick_interval=0.002) as simulator, Feed(adapter, simulator.url) as feed:
            await feed.subscribe(*wanted)
            seen: list[Event] = []
            with anyio.fail_after(20):
                async for event in feed:
                    seen.append(event)
                    if len(seen) >= self.activity:
                        break
            simulator.paused = True
            await anyio.sleep(0.05)
            with anyio.move_on_after(0.2):  # drain what was in flight when the market stopped
                async for event in feed:
                    seen.append(event)
            market = simulator.market.state(self.symbol)
            view = feed.orderbook(self.symbol)
            assert view.valid
            assert view.bids(10) == [(p, q) for p, q in market.bids.top(10)]
            assert view.asks(10) == [(p, q) for p, q in market.asks.top(10)]
        assert not [e for e in seen if isinstance(e, ErrorEvent | BookInvalidated)]
        for event in seen:
            assert msgspec.json.decode(msgspec.json.encode(event), type=Event) == event
        decoded = [(t.price, t.qty, t.side) for t in seen if isinstance(t, Trade)]
        truth = {(t.price, t.qty, t.side) for t in market.recent}
        recent = decoded[-min(len(decoded), len(market.recent)) :]
        assert recent
        assert all(trade in truth for trade in recent)
