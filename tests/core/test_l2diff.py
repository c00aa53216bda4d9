"""The L2 window diff, proven once for every user: applying it to the old window gives the new one."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sdk.l2diff import Level, LevelChange, window_changes

books = st.dictionaries(st.integers(1, 40).map(Decimal), st.integers(1, 5).map(Decimal), max_size=25)
"""One book side: price -> quantity."""


def top(book: dict[Decimal, Decimal], depth: int, *, bids: bool) -> list[Level]:
    return sorted(book.items(), reverse=bids)[:depth]


def applied(window: list[Level], changes: list[LevelChange], depth: int, *, bids: bool) -> list[Level]:
    """What a subscriber holds after the changes: zero deletes, anything else sets, then its depth cut."""
    levels = dict(window)
    for change in changes:
        if change.qty:
            levels[change.price] = change.qty
        else:
            levels.pop(change.price, None)
    return top(levels, depth, bids=bids)


@given(books, books, st.integers(1, 12), st.booleans(), st.booleans())
def test_applying_the_changes_to_the_held_window_gives_the_new_window(
    before: dict[Decimal, Decimal], after: dict[Decimal, Decimal], depth: int, bids: bool, implicit: bool
) -> None:
    held, now = top(before, depth, bids=bids), top(after, depth, bids=bids)
    listed = after if implicit else ()
    changes = window_changes(held, now, depth=depth, bids=bids, listed=listed)
    assert applied(held, changes, depth, bids=bids) == now


@given(books, books, st.integers(1, 12), st.booleans())
def test_deletions_come_first_and_nothing_unchanged_is_sent(
    before: dict[Decimal, Decimal], after: dict[Decimal, Decimal], depth: int, bids: bool
) -> None:
    held, now = top(before, depth, bids=bids), top(after, depth, bids=bids)
    changes = window_changes(held, now, depth=depth, bids=bids)
    kinds = [change.qty == 0 for change in changes]
    assert kinds == sorted(kinds, reverse=True)
    assert not {(c.price, c.qty) for c in changes} & set(held)
    assert {c.price for c in changes if c.qty == 0} == {price for price, _ in held} - {price for price, _ in now}


@given(books, books, st.integers(1, 12), st.booleans())
def test_refills_are_the_levels_that_entered_a_full_window_from_below(
    before: dict[Decimal, Decimal], after: dict[Decimal, Decimal], depth: int, bids: bool
) -> None:
    held, now = top(before, depth, bids=bids), top(after, depth, bids=bids)
    changes = window_changes(held, now, depth=depth, bids=bids, listed=after)
    worst = held[-1][0] if len(held) == depth else None
    below = {price for price, _ in now if worst is not None and (price < worst if bids else price > worst)}
    assert {c.price for c in changes if c.refill} == below - {price for price, _ in held}


def test_a_level_pushed_out_by_an_insert_is_left_to_the_depth_cut() -> None:
    held = [(Decimal(10), Decimal(1)), (Decimal(9), Decimal(1))]
    book = {Decimal(11): Decimal(2), Decimal(10): Decimal(1), Decimal(9): Decimal(1)}
    now = top(book, 2, bids=True)
    assert window_changes(held, now, depth=2, bids=True, listed=book) == [LevelChange(Decimal(11), Decimal(2))]
    assert window_changes(held, now, depth=2, bids=True) == [
        LevelChange(Decimal(9), Decimal(0)),
        LevelChange(Decimal(11), Decimal(2)),
    ]
