"""Wire streams shared by several subscriptions: requested by the first, cancelled by the last."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import sdk
from schemas.subscription import Subscription
from sdk.wirestreams import WireStreams

BOOK, DEEP, QUOTES = sdk.book("BTC/USD", 10), sdk.book("BTC/USD", 25), sdk.quotes("BTC/USD")


def test_the_first_subscription_requests_a_stream_and_the_last_cancels_it() -> None:
    streams: WireStreams[str] = WireStreams()
    assert streams.attach("book", BOOK) == "first"
    assert streams.attach("book", QUOTES) == "shared"
    assert streams.holders("book") == [BOOK, QUOTES]
    assert streams.detach("book", BOOK) is False and "book" in streams
    assert streams.detach("book", QUOTES) is True and "book" not in streams
    assert streams.detach("book", QUOTES) is False, "what holds nothing cancels nothing"
    assert streams.attach("book", BOOK) == "first"


def test_a_subscription_back_on_a_stream_it_left_while_others_held_it_renews_the_stream() -> None:
    streams: WireStreams[str] = WireStreams()
    streams.attach("book", BOOK)
    streams.attach("book", DEEP)
    streams.attach("book", QUOTES)
    streams.detach("book", BOOK)
    streams.detach("book", DEEP)
    assert streams.attach("book", BOOK) == "again"
    assert streams.attach("book", DEEP) == "shared", "the renewed stream already starts over for every holder"
    streams.detach("book", QUOTES)
    assert streams.attach("book", QUOTES) == "again"


def test_a_stream_cancelled_by_its_last_subscription_forgets_who_left_it() -> None:
    streams: WireStreams[str] = WireStreams()
    streams.attach("book", BOOK)
    streams.attach("book", QUOTES)
    streams.detach("book", BOOK)
    streams.detach("book", QUOTES)
    assert streams.attach("book", QUOTES) == "first"
    assert streams.attach("book", BOOK) == "shared"


subscriptions = st.sampled_from([BOOK, DEEP, QUOTES, sdk.trades("BTC/USD")])


@given(st.lists(st.tuples(st.booleans(), st.sampled_from("ab"), subscriptions), max_size=40))
def test_a_stream_is_requested_exactly_while_some_subscription_holds_it(
    steps: list[tuple[bool, str, Subscription]],
) -> None:
    streams: WireStreams[str] = WireStreams()
    held: dict[str, set[Subscription]] = {"a": set(), "b": set()}
    wire: dict[str, bool] = {"a": False, "b": False}
    for attach, key, subscription in steps:
        if attach and subscription not in held[key]:
            join = streams.attach(key, subscription)
            assert (join == "first") == (not held[key])
            wire[key] = True
            held[key].add(subscription)
        elif not attach:
            last = streams.detach(key, subscription)
            was_held = subscription in held[key]
            held[key].discard(subscription)
            assert last == (was_held and not held[key])
            if last:
                wire[key] = False
        for each in "ab":
            assert (each in streams) == bool(held[each]) == wire[each]
            assert set(streams.holders(each)) == held[each]
