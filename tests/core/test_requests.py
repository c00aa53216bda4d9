"""The request tracker: replies name the subscriptions their request carried, and memory stays bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import sdk
from schemas import Subscribed, SubscriptionError, Unsubscribed
from sdk.requests import RequestTracker


def test_an_acknowledgement_confirms_the_symbol_it_names_and_only_once() -> None:
    tracker: RequestTracker[int] = RequestTracker("x")
    tracker.sent(1, [sdk.trades("BTC/USD"), sdk.trades("ETH/USD")])
    assert tracker.acknowledged(1, 5, symbol="ETH/USD", warnings=("old",)) == [
        Subscribed(exchange="x", symbol="ETH/USD", subscription=sdk.trades("ETH/USD"), warnings=("old",), ts_received=5)
    ]
    assert tracker.acknowledged(1, 6, symbol="ETH/USD") == []
    [subscribed] = tracker.acknowledged(1, 7)
    assert isinstance(subscribed, Subscribed) and subscribed.subscription == sdk.trades("BTC/USD")
    assert len(tracker) == 0


def test_unsubscribes_are_confirmed_as_such_and_kept_apart_from_subscribes() -> None:
    tracker: RequestTracker[str] = RequestTracker("x")
    tracker.sent("book", [sdk.book("BTC/USD")])
    tracker.sent("book", [sdk.quotes("BTC/USD")], unsubscribe=True)
    assert tracker.acknowledged("book", 1, unsubscribe=True) == [
        Unsubscribed(exchange="x", symbol="BTC/USD", subscription=sdk.quotes("BTC/USD"), ts_received=1)
    ]
    [subscribed] = tracker.acknowledged("book", 2)
    assert isinstance(subscribed, Subscribed) and subscribed.subscription == sdk.book("BTC/USD")


def test_a_refusal_names_each_refused_subscription_or_else_the_symbol() -> None:
    tracker: RequestTracker[int] = RequestTracker("x")
    tracker.sent(3, [sdk.trades("BTC/USD"), sdk.trades("ETH/USD")])
    assert tracker.refused(3, "no", 9) == [
        SubscriptionError(exchange="x", symbol=s, subscription=sdk.trades(s), message="no", ts_received=9)
        for s in ("BTC/USD", "ETH/USD")
    ]
    assert tracker.refused(3, "again", 9, symbol="SOL/USD") == [
        SubscriptionError(exchange="x", symbol="SOL/USD", message="again", ts_received=9)
    ]


def test_a_reply_to_an_unknown_request_stands_for_what_the_venue_echoed() -> None:
    tracker: RequestTracker[int] = RequestTracker("x")
    echoed = sdk.book("BTC/USD", 25)
    [subscribed] = tracker.acknowledged(None, 1, echoed=echoed)
    assert isinstance(subscribed, Subscribed) and subscribed.subscription == echoed
    [refused] = tracker.refused(42, "gone", 1, echoed=echoed)
    assert refused.subscription == echoed and refused.symbol == "BTC/USD"
    assert tracker.acknowledged(42, 1) == []


symbols = st.sampled_from(["BTC/USD", "ETH/USD", "SOL/USD"])
requests = st.lists(st.tuples(st.integers(0, 30), st.lists(symbols, min_size=1, max_size=3), st.booleans()))


@given(requests, st.integers(1, 8))
def test_memory_is_bounded_and_the_newest_requests_are_remembered(
    sent: list[tuple[int, list[str], bool]], limit: int
) -> None:
    tracker: RequestTracker[int] = RequestTracker("x", limit=limit)
    for key, names, unsubscribe in sent:
        tracker.sent(key, [sdk.trades(n) for n in names], unsubscribe=unsubscribe)
        assert len(tracker) <= limit
    if sent:
        key, names, unsubscribe = sent[-1]
        confirmed = tracker.acknowledged(key, 0, unsubscribe=unsubscribe, symbol=names[0])
        assert sdk.trades(names[0]) in [e.subscription for e in confirmed if isinstance(e, Subscribed | Unsubscribed)]


@given(requests)
def test_every_subscription_sent_is_answered_exactly_once(sent: list[tuple[int, list[str], bool]]) -> None:
    tracker: RequestTracker[int] = RequestTracker("x", limit=1000)
    expected: list[tuple[int, str, bool]] = []
    for key, names, unsubscribe in sent:
        tracker.sent(key, [sdk.trades(n) for n in names], unsubscribe=unsubscribe)
        expected += [(key, n, unsubscribe) for n in names]
    answered: list[tuple[int, str, bool]] = []
    for key in {key for key, _, _ in sent}:
        for event in tracker.acknowledged(key, 0) + tracker.acknowledged(key, 0, unsubscribe=True):
            assert isinstance(event, Subscribed | Unsubscribed)
            answered.append((key, event.symbol, isinstance(event, Unsubscribed)))
        assert tracker.refused(key, "late", 0) == [SubscriptionError(exchange="x", message="late", ts_received=0)]
    assert sorted(answered) == sorted(expected)
    assert len(tracker) == 0
