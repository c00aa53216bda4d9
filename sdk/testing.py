"""The adapter author's kit: hypothesis strategies for the shared schema, and a conformance suite.

An adapter's tests get the whole suite with a few lines::

    from sdk.testing import AdapterConformance

    class TestMyExchangeConformance(AdapterConformance):
        adapter_name = "myexchange"
        symbol = "BTC/USD"          # a symbol its simulator lists

It checks the codec alone (arbitrary input never breaks decoding, symbols round-trip,
capabilities match what the codec accepts) and then, against the adapter's own simulator through
a real ``Feed``, every rule of the contract a feed relies on: each subscription confirmed within
the ack timeout, refusals naming what they refuse, unsubscribe stopping the data, books equal to
the market's at every declared depth, events labelled with the adapter's name and the shared
symbols, and books that recover from a failed checksum, lost events and a reconnect. Each failure
names the rule broken. Needs the ``test`` extra (hypothesis, pytest).

Real traffic joins in through ``recordings`` (made with ``xfeeds record``, see docs/recording.md):
every recorded frame, and every prefix of one, must decode without raising, and a replay of each
recording through the feed's session must decode every frame and verify every book.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, get_args, get_origin

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import (
    BookInvalidated,
    BookResynced,
    BookSnapshot,
    BookUpdate,
    ErrorEvent,
    Event,
    Reconnected,
    Subscribed,
    SubscriptionError,
    Trade,
    Unsubscribed,
)
from schemas.subscription import Channel, Subscription
from schemas.trading import LIMIT_PRICED, TRIGGERED, OrderKind, OrderRequest, TimeInForce, TradingEvent
from sdk import registry
from sdk.contract import Adapter, Codec, undecodable_frame
from sdk.feed import Feed
from sdk.reconnect import ReconnectPolicy
from sdk.recording import Header
from sdk.replay import Player, inbound_frames, read_records
from sdk.session import CHANNEL_OF
from sdk.source import EventSource
from sdk.subscriptions import book, candles, instruments, quotes, ticker, trades

if TYPE_CHECKING:
    from sdk.simulation.simulator import Simulator

ASSETS = ("BTC", "ETH", "USD", "EUR", "BCH", "LTC", "DOGE", "SOL", "USDT")


E = TypeVar("E")
S = TypeVar("S")
"""What a source yields: market ``Event``s or ``TradingEvent``s."""


def of(kind: type[E], events: Iterable[object]) -> list[E]:
    """The events of one type, in order."""
    return [event for event in events if isinstance(event, kind)]


async def collect_until(source: EventSource[S], done: Callable[[list[S]], bool], timeout: float = 10.0) -> list[S]:
    """Events from ``source`` (a feed or an account) until ``done(events)`` holds (or it ends);
    ``TimeoutError`` after ``timeout`` seconds."""
    return await _collect(source, done, timeout, fail_on_timeout=True)


async def collect_for(source: EventSource[S], seconds: float) -> list[S]:
    """Every event ``source`` delivers within ``seconds``."""
    return await _collect(source, lambda _: False, seconds)


async def _collect(
    source: EventSource[S], done: Callable[[list[S]], bool], seconds: float, *, fail_on_timeout: bool = False
) -> list[S]:
    """Events until ``done(events)`` holds, the source ends or ``seconds`` pass (``TimeoutError`` then,
    with ``fail_on_timeout``; otherwise the caller asserts what is missing): the one collecting loop."""
    events: list[S] = []
    with anyio.move_on_after(seconds) as deadline:
        async for event in source:
            events.append(event)
            if done(events):
                break
    if fail_on_timeout and deadline.cancelled_caught:
        raise TimeoutError(f"not done within {seconds:g} s ({len(events)} events)")
    return events


async def _unless_done(source: EventSource[Event], done: Callable[[list[Event]], bool], seconds: float) -> list[Event]:
    """As ``_collect``, reading nothing when ``done`` already holds (a conformance check's state may be reached)."""
    return [] if done([]) else await _collect(source, done, seconds)


def decode(codec: Codec, frame: bytes | str, received_ns: int) -> list[Event]:
    """The events a feed delivers for one frame: the codec's, or one ``ErrorEvent`` if it raised."""
    try:
        return codec.decode_frame(frame, received_ns)
    except Exception as exc:
        return [undecodable_frame(codec, frame, exc, received_ns)]


def recorded_frames(recordings: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> st.SearchStrategy[bytes]:
    """The frames a recording received, verbatim: hypothesis input drawn from real traffic."""
    frames = [frame for frame, _ in inbound_frames(recordings)]
    if not frames:
        raise ValueError(f"{recordings} received no frame")
    return st.sampled_from(frames)


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


def trading_events(kind: type[Any] | None = None) -> st.SearchStrategy[TradingEvent]:
    """Valid trading events, of one ``kind`` or of every kind an account yields."""
    kinds = [kind] if kind is not None else list(get_args(TradingEvent))
    return st.one_of([_strategy(k) for k in kinds])


@st.composite
def order_requests(draw: st.DrawFn, symbol: st.SearchStrategy[str] | None = None) -> OrderRequest:
    """Order requests the schema accepts: every kind, time in force and option, in valid combinations."""
    kind: OrderKind = draw(st.sampled_from(get_args(OrderKind)))
    time_in_force: TimeInForce = draw(st.sampled_from(get_args(TimeInForce)))
    positive = wire_decimals().filter(lambda value: value > 0)
    by_quote = kind == "market" and draw(st.booleans())
    return OrderRequest(
        symbol=draw(symbol or symbols()),
        side=draw(st.sampled_from(("buy", "sell"))),
        order_type=kind,
        qty=None if by_quote else draw(positive),
        quote_qty=draw(positive) if by_quote else None,
        price=draw(positive) if kind in LIMIT_PRICED else None,
        stop_price=draw(positive) if kind in TRIGGERED else None,
        time_in_force=time_in_force,
        expire_time=draw(st.integers(0, 2**62)) if time_in_force == "gtd" else None,
        post_only=kind in LIMIT_PRICED and time_in_force in ("gtc", "gtd") and draw(st.booleans()),
        reduce_only=draw(st.booleans()),
        client_order_id=draw(st.none() | st.text(min_size=1, max_size=18).filter(str.strip)),
        validate_only=draw(st.booleans()),
    )


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

STREAMS: dict[type[Any], Channel] = CHANNEL_OF
"""The channel each market-data event belongs to."""

_CHANNEL_ORDER: tuple[Channel, ...] = ("book", "trades", "quotes", "ticker", "candles")
REFUSAL = "refused by the conformance suite"
"""The reason the simulator gives when the suite makes it refuse every subscription."""
RESYNC_INTERVAL = 0.05
FAST_RECONNECT = ReconnectPolicy(initial=0.01, cap=0.05)
SETTLE = 0.15
"""Seconds to drain what was in flight once the simulator's market stands still."""
ACTIVITY = 0.2
"""Seconds of market activity a book goes through before it is compared."""


def stream_of(event: Event) -> tuple[Channel, str] | None:
    """The (channel, symbol) a market-data event belongs to; None for any other event."""
    channel = STREAMS.get(type(event))
    return None if channel is None else (channel, getattr(event, "symbol", ""))


class _Answers:
    """How the venue answered each request, as the feed delivered the answers.

    A ``SubscriptionError`` after which the subscription is still pending is the feed's own report
    that no answer came within the ack timeout, not an answer.
    """

    def __init__(self, feed: Feed, wanted: Iterable[Subscription]) -> None:
        self._feed = feed
        self.wanted = list(wanted)
        self.confirmed: dict[Subscription, Subscribed] = {}
        self.refused: dict[Subscription, SubscriptionError] = {}
        self.unsubscribed: dict[Subscription, Unsubscribed] = {}
        self.late: set[Subscription] = set()
        self.anonymous: list[SubscriptionError] = []

    def see(self, event: Event) -> None:
        if isinstance(event, Subscribed):
            self.confirmed.setdefault(event.subscription, event)
        elif isinstance(event, Unsubscribed):
            self.unsubscribed.setdefault(event.subscription, event)
        elif isinstance(event, SubscriptionError):
            if event.subscription is None:
                self.anonymous.append(event)
            elif self._feed.state(event.subscription) == "failed":
                self.refused.setdefault(event.subscription, event)
            else:
                self.late.add(event.subscription)

    def unanswered(self) -> list[Subscription]:
        return [s for s in self.wanted if s not in self.confirmed and s not in self.refused]

    def not_unsubscribed(self) -> list[Subscription]:
        return [s for s in self.wanted if s not in self.unsubscribed]


async def _answers(
    feed: Feed, answers: _Answers, pending: Callable[[_Answers], list[Subscription]], seconds: float
) -> list[Event]:
    """Events until ``pending(answers)`` is empty, or ``seconds`` pass."""

    def done(events: list[Event]) -> bool:
        if events:
            answers.see(events[-1])
        return not pending(answers)

    return await _unless_done(feed, done, seconds)


class AdapterConformance:
    """Tests every adapter must pass; subclass it (as ``Test...``) and set the class attributes.

    Each check names the rule of the contract it enforces in its assertion message. The checks
    that need a venue run the adapter's own simulator on loopback with a real ``Feed``, timed
    short: each takes about a second.
    """

    adapter_name: ClassVar[str]
    symbol: ClassVar[str]
    """A symbol the adapter's simulator lists."""
    activity: ClassVar[int] = 150
    """How many market events to observe from the simulator."""
    assets: ClassVar[tuple[str, ...]] = ASSETS
    """Asset codes the adapter's symbol mapping must round-trip."""
    ack_timeout: ClassVar[float] = 1.0
    """Seconds within which every (un)subscribe request must be answered (the feed's ``ack_timeout``)."""
    tick_interval: ClassVar[float] = 0.002
    """Seconds between the simulator's market steps: fast, so every check sees activity at once."""
    recordings: ClassVar[tuple[str, ...]] = ()
    """Recordings of this adapter's real traffic (files or directories), checked frame by frame."""

    @property
    def adapter(self) -> Adapter:
        """The adapter under test: the registered one named ``adapter_name``."""
        return registry.get(self.adapter_name)

    # -- the codec alone --------------------------------------------------------------------

    @_SHARED
    @given(st.one_of(st.text(), st.binary()))
    def test_decode_never_raises(self, garbage: str | bytes) -> None:
        decoded = decode(self.adapter.new_codec(), garbage, 1)
        assert isinstance(decoded, list)
        assert all(isinstance(e, get_args(Event)) for e in decoded)

    @_SHARED
    @given(st.data())
    def test_recorded_frames_decode_even_cut_short(self, data: st.DataObject) -> None:
        """Real frames, whole or cut at any byte, never make the codec raise."""
        if not self.recordings:
            return
        frame = data.draw(recorded_frames(self.recordings))
        cut = data.draw(st.integers(min_value=0, max_value=len(frame)))
        for piece in (frame, frame[:cut]):
            decoded = decode(self.adapter.new_codec(), piece, 1)
            assert all(isinstance(e, get_args(Event)) for e in decoded)

    def test_recordings_replay_cleanly(self) -> None:
        """Each recording, replayed through the feed's session, decodes every frame and verifies every book."""
        for recording in self.recordings:
            self.assert_replays_cleanly(recording)

    def assert_replays_cleanly(self, recording: str | os.PathLike[str]) -> None:
        """Replay ``recording`` through a fresh session: no frame the codec raised on, no book that failed."""
        records = read_records(recording)
        header = next(records)
        assert isinstance(header, Header), f"{recording} does not start with a header"
        assert header.adapter == self.adapter.name, f"{recording} records {header.adapter}, not {self.adapter.name}"
        player = Player(header)
        for record in records:
            for event in player.play(record):
                assert not (isinstance(event, ErrorEvent) and event.message.startswith("undecodable frame")), (
                    f"{self.adapter.name}: a recorded frame broke the codec: {event.message}: {event.raw[:200]}"
                )
                assert not (isinstance(event, BookInvalidated) and event.reason in ("checksum", "crossed")), (
                    f"{self.adapter.name}: {event.symbol} book failed its {event.reason} check on recorded traffic"
                )

    @_SHARED
    @given(st.data())
    def test_symbols_round_trip(self, data: st.DataObject) -> None:
        symbol = data.draw(symbols(self.assets))
        mapping = self.adapter.symbols
        back = mapping.from_wire(mapping.to_wire(symbol))
        assert back == symbol, (
            f"{self.adapter.name}: {symbol!r} goes out as {mapping.to_wire(symbol)!r} and comes back as {back!r}: "
            "symbols.from_wire(symbols.to_wire(s)) must give s back for every BASE/QUOTE symbol"
        )

    @_SHARED
    @given(st.data())
    def test_capabilities_match_what_the_codec_accepts(self, data: st.DataObject) -> None:
        adapter = self.adapter
        requested = data.draw(st.lists(subscriptions(adapter), min_size=1, max_size=5))
        for subscription in requested:
            adapter.check(subscription)
        try:
            frames = adapter.new_codec().subscribe(requested)
        except Exception as exc:
            raise AssertionError(
                f"{adapter.name}: the codec cannot subscribe {requested}, which the capabilities declare "
                f"({type(exc).__name__}: {exc}): declare only what the codec serves"
            ) from exc
        assert frames, f"{adapter.name}: subscribe({requested}) made no frame to send"
        assert all(isinstance(frame, str) and frame for frame in frames), "subscribe must return non-empty text frames"
        for channel in {"trades", "book", "ticker", "quotes", "candles"} - adapter.capabilities.channels:
            with pytest.raises(ValueError, match="has no"):
                adapter.check(Subscription(channel=channel, symbol=self.symbol))  # type: ignore[arg-type]

    # -- against the adapter's own simulator ------------------------------------------------

    def test_simulator_and_codec_agree(self) -> None:
        """What the simulator's market holds is what the codec decodes from its frames."""
        anyio.run(self._agreement)

    def test_every_subscription_is_confirmed(self) -> None:
        """Each request is answered by ``Subscribed`` (or a refusal naming it) within the ack timeout."""
        anyio.run(self._confirmations)

    def test_refusals_name_the_subscription(self) -> None:
        """A refused request comes back as a ``SubscriptionError`` naming it, with the venue's reason."""
        anyio.run(self._refusals)

    def test_unsubscribe_stops_the_data(self) -> None:
        """Each unsubscribe is confirmed by ``Unsubscribed``, and no data of that stream follows it."""
        anyio.run(self._unsubscriptions)

    def test_books_match_the_market_at_every_depth(self) -> None:
        """At every declared depth, the book built from the codec's events is the venue's book."""
        anyio.run(self._books_at_every_depth)

    def test_events_carry_the_adapter_name_and_shared_symbols(self) -> None:
        """Events say ``exchange=`` the adapter's name (renamed too) and the shared symbol subscribed."""
        anyio.run(self._labels)

    def test_a_failed_checksum_is_resynced(self) -> None:
        """A corrupted checksum invalidates the book, and the resync brings back the venue's book."""
        anyio.run(self._checksum_resync)

    def test_a_book_that_lost_events_is_resynced(self) -> None:
        """Events dropped for a slow consumer invalidate the book; the resync restores it."""
        anyio.run(self._dropped_events_resync)

    def test_books_recover_after_a_reconnect(self) -> None:
        """After a dropped connection the book is valid again and is the venue's book."""
        anyio.run(self._reconnect_recovery)

    # -- how the checks run -----------------------------------------------------------------

    def feed(self, simulator: Simulator, adapter: Adapter | None = None, **options: Any) -> Feed:
        """A feed to ``simulator`` timed for fast checks (short ack timeout, resync and reconnect delays)."""
        return Feed(
            adapter or self.adapter,
            simulator.url,
            ack_timeout=self.ack_timeout,
            resync_interval=RESYNC_INTERVAL,
            reconnect=FAST_RECONNECT,
            **options,
        )

    def simulator(self, adapter: Adapter | None = None) -> Simulator:
        return (adapter or self.adapter).make_simulator(tick_interval=self.tick_interval)

    def listed_symbols(self, simulator: Simulator) -> list[str]:
        """``symbol``, then every other symbol the simulator lists, those spelled differently on the wire first."""
        to_wire = self.adapter.symbols.to_wire
        others = sorted((s for s in simulator.market.states if s != self.symbol), key=lambda s: to_wire(s) == s)
        return [self.symbol, *others]

    def book_depth(self) -> int:
        """The depth the single-book checks use: 10 where declared, else the smallest."""
        depths = self.adapter.capabilities.book_depths
        return 10 if 10 in depths else min(depths)

    def one_per_channel(self, simulator: Simulator, *, streams_only: bool = False) -> list[Subscription]:
        """A subscription to every channel the adapter declares, each on its own symbol while they last."""
        caps = self.adapter.capabilities
        listed = self.listed_symbols(simulator)
        channels = [c for c in _CHANNEL_ORDER if c in caps.channels and (c != "book" or caps.book_depths)]
        channels = [c for c in channels if c != "candles" or caps.candle_intervals]
        wanted = []
        for index, channel in enumerate(channels):
            symbol = listed[index % len(listed)]
            if channel == "book":
                wanted.append(book(symbol, self.book_depth()))
            elif channel == "candles":
                wanted.append(candles(symbol, caps.candle_intervals[0]))
            else:
                wanted.append(Subscription(channel=channel, symbol=symbol))
        if "instruments" in caps.channels and not streams_only:
            wanted.append(instruments())
        return wanted

    def has_book(self) -> bool:
        caps = self.adapter.capabilities
        return "book" in caps.channels and bool(caps.book_depths)

    async def at_rest(self, simulator: Simulator, feed: Feed) -> list[Event]:
        """Stop the simulator's market and take in what was in flight; returns those events."""
        simulator.paused = True
        await anyio.sleep(SETTLE / 3)
        return await collect_for(feed, SETTLE)

    def assert_book_is_the_market(self, simulator: Simulator, feed: Feed, wanted: Subscription, rule: str) -> None:
        """The feed's book of ``wanted`` is valid and equals the simulator market's, at ``wanted``'s depth."""
        assert wanted.depth is not None
        name, symbol, depth = self.adapter.name, wanted.symbol, wanted.depth
        view = feed.orderbook(symbol)
        assert view.valid, f"{name}: the book of {symbol} (depth {depth}) is not valid {rule}"
        market = simulator.market.state(symbol)
        for side, held, truth in (
            ("bids", view.bids(depth), market.bids.top(depth)),
            ("asks", view.asks(depth), market.asks.top(depth)),
        ):
            assert held == truth, (
                f"{name}: {symbol} {side} at depth {depth} {rule}: the feed holds {len(held)} levels, the market "
                f"{len(truth)}; first difference {_first_difference(held, truth)}. The snapshot and updates the "
                "codec emits must rebuild the venue's book to the subscribed depth (every level that leaves the "
                "window deleted, every level that enters it sent)"
            )

    # -- the checks -------------------------------------------------------------------------

    async def _agreement(self) -> None:
        adapter = self.adapter
        wanted = [trades(self.symbol), book(self.symbol, 10)]
        async with self.simulator() as simulator, self.feed(simulator) as feed:
            await feed.subscribe(*wanted)
            seen = await collect_until(feed, lambda events: len(events) >= self.activity, timeout=20)
            seen += await self.at_rest(simulator, feed)
            market = simulator.market.state(self.symbol)
            self.assert_book_is_the_market(simulator, feed, wanted[1], "after market activity")
        problems = [e for e in seen if isinstance(e, ErrorEvent | BookInvalidated)]
        assert not problems, f"{adapter.name}: errors or invalid books against its own simulator: {problems[:3]}"
        for event in seen:
            assert msgspec.json.decode(msgspec.json.encode(event), type=Event) == event
        decoded = [(t.price, t.qty, t.side) for t in seen if isinstance(t, Trade)]
        truth = {(t.price, t.qty, t.side) for t in market.recent}
        recent = decoded[-min(len(decoded), len(market.recent)) :]
        assert recent, f"{adapter.name}: no trade decoded from its simulator"
        wrong = [trade for trade in recent if trade not in truth]
        assert not wrong, (
            f"{adapter.name}: decoded trades (price, qty, taker side) the market never made: {wrong[:3]}; "
            "a Trade's side is the taker's"
        )

    async def _confirmations(self) -> None:
        name = self.adapter.name
        async with self.simulator() as simulator, self.feed(simulator) as feed:
            answers = _Answers(feed, self.one_per_channel(simulator))
            await feed.subscribe(*answers.wanted)
            await _answers(feed, answers, _Answers.unanswered, self.ack_timeout + 0.5)
        unanswered = answers.unanswered()
        assert not unanswered, (
            f"{name}: no Subscribed (nor a refusal naming it) within the ack timeout ({self.ack_timeout:g} s) for "
            f"{unanswered}. Every subscription the codec requests must be answered by a Subscribed naming it; "
            "record each request with sdk.requests.RequestTracker.sent and hand it the venue's reply"
        )
        refused = {s: e.message for s, e in answers.refused.items()}
        assert not refused, f"{name}: its own simulator refused subscriptions its capabilities declare: {refused}"

    async def _refusals(self) -> None:
        name = self.adapter.name
        async with self.simulator() as simulator, self.feed(simulator) as feed:
            simulator.reject_subscriptions = REFUSAL
            answers = _Answers(feed, self.one_per_channel(simulator))
            await feed.subscribe(*answers.wanted)
            await _answers(feed, answers, lambda a: [s for s in a.wanted if s not in a.refused], self.ack_timeout + 0.5)
        assert not answers.anonymous, (
            f"{name}: refusals that name no subscription: {answers.anonymous[:3]}. A SubscriptionError must carry "
            "subscription= the refused request and its symbol: pass RequestTracker.refused the key the request "
            "was recorded under"
        )
        for subscription in answers.wanted:
            refusal = answers.refused.get(subscription)
            assert refusal is not None, (
                f"{name}: the simulator refused {subscription} (reject_subscriptions) and no SubscriptionError named "
                f"it within the ack timeout ({self.ack_timeout:g} s); a refusal must name the refused subscription"
            )
            assert refusal.symbol == subscription.symbol, (
                f"{name}: the refusal of {subscription} says symbol={refusal.symbol!r}; it must be the shared "
                "symbol subscribed"
            )
            assert REFUSAL in refusal.message, (
                f"{name}: the refusal of {subscription} reads {refusal.message!r}; it must carry the venue's own "
                f"reason ({REFUSAL!r})"
            )

    async def _unsubscriptions(self) -> None:
        name = self.adapter.name
        async with self.simulator() as simulator, self.feed(simulator) as feed:
            answers = _Answers(feed, self.one_per_channel(simulator, streams_only=True))
            await feed.subscribe(*answers.wanted)
            await _answers(feed, answers, _Answers.unanswered, self.ack_timeout + 0.5)
            assert not answers.unanswered(), f"{name}: subscriptions never confirmed: {answers.unanswered()}"
            await collect_for(feed, ACTIVITY)
            await feed.unsubscribe(*answers.wanted)
            events = await _answers(feed, answers, _Answers.not_unsubscribed, self.ack_timeout + 0.5)
            events += await collect_for(feed, ACTIVITY)
        pending = answers.not_unsubscribed()
        assert not pending, (
            f"{name}: no Unsubscribed within the ack timeout ({self.ack_timeout:g} s) for {pending}. unsubscribe must "
            "return the venue's cancellation, and the codec must answer its confirmation with Unsubscribed naming "
            "the subscription (RequestTracker.sent(..., unsubscribe=True), then acknowledged(..., unsubscribe=True))"
        )
        stopped: dict[tuple[Channel, str], int] = {}
        for index, event in enumerate(events):
            if isinstance(event, Unsubscribed):
                stopped.setdefault((event.subscription.channel, event.subscription.symbol), index)
        flowing = [
            event
            for index, event in enumerate(events)
            if (stream := stream_of(event)) is not None and index > stopped.get(stream, len(events))
        ]
        assert not flowing, (
            f"{name}: data kept flowing after Unsubscribed: {flowing[:3]}. Once a stream is confirmed "
            "unsubscribed the venue sends none of it, and the codec must decode none of it"
        )

    async def _books_at_every_depth(self) -> None:
        if not self.has_book():
            pytest.skip(f"{self.adapter.name} serves no book")
        name, depths = self.adapter.name, list(self.adapter.capabilities.book_depths)
        async with self.simulator() as simulator:
            listed = self.listed_symbols(simulator)
            for start in range(0, len(depths), len(listed)):  # as many books at once as there are symbols
                wanted = [book(s, d) for s, d in zip(listed, depths[start : start + len(listed)], strict=False)]
                simulator.paused = False
                async with self.feed(simulator) as feed:
                    await feed.subscribe(*wanted)
                    events = await _unless_done(feed, _books_valid(feed, wanted), self.ack_timeout + 0.5)
                    events += await collect_for(feed, ACTIVITY)
                    events += await self.at_rest(simulator, feed)
                    for subscription in wanted:
                        self.assert_book_is_the_market(simulator, feed, subscription, "after market activity")
                    problems = [e for e in events if isinstance(e, ErrorEvent | BookInvalidated)]
                    assert not problems, f"{name}: errors or invalid books against its own simulator: {problems[:3]}"
                    checksummed = [e for e in events if isinstance(e, BookSnapshot | BookUpdate) and e.checksum]
                    assert not checksummed or feed.book_stats.checks, (
                        f"{name}: the venue checksums its books but the feed verified none: book_checksum(symbol) "
                        "must return the venue's ChecksumScheme once the codec knows it"
                    )

    async def _labels(self) -> None:
        renamed = dataclasses.replace(self.adapter, name=f"{self.adapter.name}-renamed")
        async with self.simulator(renamed) as simulator, self.feed(simulator, renamed) as feed:
            wanted = self.one_per_channel(simulator)
            streams = {(s.channel, s.symbol) for s in wanted if s.channel != "instruments"}
            seen: set[tuple[Channel, str] | None] = set()

            def flowing(events: list[Event]) -> bool:
                if events:
                    seen.add(stream_of(events[-1]))
                return streams <= seen

            await feed.subscribe(*wanted)
            events = await _unless_done(feed, flowing, self.ack_timeout + 1)
            listed = set(simulator.market.states)
        wrong_exchange = [e for e in events if e.exchange != renamed.name]
        assert not wrong_exchange, (
            f"events of an adapter renamed to {renamed.name!r} say otherwise: {wrong_exchange[:3]}. Every event "
            "carries exchange= the adapter's name, which reaches the codec as Codec.exchange"
        )
        allowed = {s.symbol for s in wanted} | (listed if instruments() in wanted else set())
        wrong_symbol = [e for e in events if getattr(e, "symbol", None) not in (None, *allowed)]
        strangers = sorted({getattr(e, "symbol", None) or "" for e in wrong_symbol})
        assert not wrong_symbol, (
            f"{renamed.name}: events for symbols never subscribed: {strangers} (subscribed {sorted(allowed)}): "
            "events carry the shared BASE/QUOTE symbol (symbols.from_wire), "
            "never the venue's name for it"
        )
        silent = sorted(streams - seen)
        assert not silent, (
            f"{renamed.name}: no data within {self.ack_timeout + 1:g} s on {silent}: the simulator must serve every "
            "channel the adapter declares, and the codec must decode it"
        )

    async def _book_ready(self, feed: Feed, subscription: Subscription) -> list[Event]:
        await feed.subscribe(subscription)
        events = await _unless_done(feed, lambda _: feed.orderbook(subscription.symbol).valid, self.ack_timeout + 0.5)
        assert feed.orderbook(subscription.symbol).valid, f"{self.adapter.name}: {subscription} never became valid"
        return events

    async def _until_resynced(self, feed: Feed, symbol: str, seconds: float) -> tuple[list[Event], bool]:
        """Events until the book of ``symbol`` was invalidated, then resynced and valid; and whether it was."""

        def done(events: list[Event]) -> bool:
            integrity = [e for e in events if isinstance(e, BookInvalidated | BookResynced) and e.symbol == symbol]
            return (
                any(isinstance(e, BookInvalidated) for e in integrity)
                and isinstance(integrity[-1], BookResynced)
                and feed.orderbook(symbol).valid
            )

        events = await _unless_done(feed, done, seconds)
        return events, done(events)

    def assert_resynced(self, resynced: bool, symbol: str, seconds: float) -> None:
        assert resynced, (
            f"{self.adapter.name}: the book of {symbol} was invalidated and not resynced within {seconds:g} s. To "
            "resync, the feed unsubscribes and resubscribes that book: the codec must send both requests, the venue "
            "must answer with a fresh snapshot, and the codec must decode it as a BookSnapshot"
        )

    async def _checksum_resync(self) -> None:
        if not self.has_book():
            pytest.skip(f"{self.adapter.name} serves no book")
        wanted = book(self.symbol, self.book_depth())
        async with self.simulator() as simulator, self.feed(simulator) as feed:
            events = await self._book_ready(feed, wanted)
            events += await _unless_done(feed, lambda e: len(of(BookUpdate, e)) >= 3, self.ack_timeout)
            if not any(e.checksum is not None for e in events if isinstance(e, BookSnapshot | BookUpdate)):
                pytest.skip(f"{self.adapter.name}: the venue does not checksum its books")
            simulator.corrupt_next_checksum(self.symbol)
            seconds = self.ack_timeout + 1
            events, resynced = await self._until_resynced(feed, self.symbol, seconds)
            assert [e for e in of(BookInvalidated, events) if e.reason == "checksum"], (
                f"{self.adapter.name}: a book message with a wrong checksum did not invalidate the book: the codec "
                "must carry the venue's checksum on each book event and book_checksum(symbol) must return its "
                "scheme (and the simulator's session must implement corrupt_checksum)"
            )
            self.assert_resynced(resynced, self.symbol, seconds)
            await collect_for(feed, ACTIVITY)
            await self.at_rest(simulator, feed)
            self.assert_book_is_the_market(simulator, feed, wanted, "after a checksum resync")

    async def _dropped_events_resync(self) -> None:
        if not self.has_book():
            pytest.skip(f"{self.adapter.name} serves no book")
        wanted = book(self.symbol, self.book_depth())
        async with self.simulator() as simulator, self.feed(simulator, buffer_size=16, overflow="drop_oldest") as feed:
            await self._book_ready(feed, wanted)
            await anyio.sleep(ACTIVITY)  # a consumer stalls: the feed drops the oldest events
            seconds = self.ack_timeout + 1
            events, resynced = await self._until_resynced(feed, self.symbol, seconds)
            assert [e for e in of(BookInvalidated, events) if e.reason == "dropped"], "the stall dropped no book event"
            self.assert_resynced(resynced, self.symbol, seconds)
            await collect_for(feed, ACTIVITY)
            await self.at_rest(simulator, feed)
            self.assert_book_is_the_market(simulator, feed, wanted, "after a resync for events the consumer lost")

    async def _reconnect_recovery(self) -> None:
        if not self.has_book():
            pytest.skip(f"{self.adapter.name} serves no book")
        wanted = book(self.symbol, self.book_depth())
        async with self.simulator() as simulator, self.feed(simulator) as feed:
            await self._book_ready(feed, wanted)
            await simulator.drop_connections()
            seconds = self.ack_timeout + 1
            events = await _unless_done(
                feed, lambda e: bool(of(Reconnected, e)) and feed.orderbook(self.symbol).valid, seconds
            )
            assert of(Reconnected, events), f"{self.adapter.name}: the feed did not reconnect within {seconds:g} s"
            assert feed.orderbook(self.symbol).valid, (
                f"{self.adapter.name}: the book of {self.symbol} is not valid {seconds:g} s after a reconnect. Each "
                "connection gets a fresh codec (resume carries over only what must outlive a connection) and every "
                "subscription is requested again: the venue's fresh snapshot must come out as a BookSnapshot"
            )
            await collect_for(feed, ACTIVITY)
            await self.at_rest(simulator, feed)
            self.assert_book_is_the_market(simulator, feed, wanted, "after a reconnect")


def _books_valid(feed: Feed, wanted: list[Subscription]) -> Callable[[list[Event]], bool]:
    """Whether every book in ``wanted`` is valid (whatever the events so far)."""
    return lambda _: all(feed.orderbook(s.symbol).valid for s in wanted)


def _first_difference(
    held: list[tuple[Decimal, Decimal]], truth: list[tuple[Decimal, Decimal]]
) -> tuple[int, tuple[Decimal, Decimal] | None, tuple[Decimal, Decimal] | None]:
    """(index, held level, market level) of the first level where two sides differ."""
    for index in range(max(len(held), len(truth))):
        mine = held[index] if index < len(held) else None
        theirs = truth[index] if index < len(truth) else None
        if mine != theirs:
            return index, mine, theirs
    return -1, None, None


_TRADING_KIT = frozenset(
    {
        "TradingConformance",
        "TradingVenue",
        "balances",
        "fills",
        "instrument_orders",
        "order_lifecycles",
        "price_step",
        "qty_step",
        "smallest_qty",
    }
)


def __getattr__(name: str) -> Any:
    """The trading half of the kit (``sdk.testing_trading``), importable from here as well; loaded
    on first use, as it imports this module's helpers."""
    if name in _TRADING_KIT:
        return getattr(importlib.import_module("sdk.testing_trading"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
