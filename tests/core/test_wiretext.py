"""Exact conversions from wire text: numbers and times."""

from __future__ import annotations

import contextlib
import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import BookLevel
from sdk.memo import Memo
from sdk.testing import wire_decimals
from sdk.wiretext import (
    MAGNITUDE_LIMIT,
    TEXT_LIMIT,
    WireValueError,
    check_levels,
    check_number,
    check_places,
    check_quantity,
    ns_to_rfc3339,
    rfc3339_to_ns,
    seconds_text_to_ns,
    wire_decimal,
    wire_quantity,
)

instants = st.integers(0, 4_102_444_800 * 10**9 - 1)  # 1970 to 2100


@given(instants, st.sampled_from([0, 3, 6, 9]))
def test_rfc3339_round_trip_and_agreement_with_datetime(ns: int, digits: int) -> None:
    text = ns_to_rfc3339(ns, digits) if digits else ns_to_rfc3339(ns, 6)[:19] + "Z"
    parsed = rfc3339_to_ns(text)
    truncated = ns - ns % 10 ** (9 - digits) if digits else ns - ns % 10**9
    assert parsed == truncated
    moment = datetime.datetime.fromisoformat(text[:19] + "+00:00")
    assert parsed // 10**9 == int(moment.timestamp())


@given(st.integers(0, 2**40), st.integers(0, 10**9 - 1), st.integers(1, 9))
def test_decimal_seconds_text(seconds: int, nanos: int, digits: int) -> None:
    fraction = f"{nanos:09d}"[:digits]
    assert seconds_text_to_ns(f"{seconds}.{fraction}") == seconds * 10**9 + int(fraction.ljust(9, "0"))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6 - 1)), max_size=50))
def test_microsecond_timestamps_in_a_row(stamps: list[tuple[int, int]]) -> None:
    """Consecutive timestamps share their whole seconds, which are remembered between calls: each is exact."""
    for seconds, micros in stamps:
        whole = 1_700_000_000 + seconds
        assert seconds_text_to_ns(f"{whole}.{micros:06d}") == whole * 10**9 + micros * 1_000


@given(st.text(max_size=24))
def test_any_seconds_text_is_a_time_or_a_wire_error(text: str) -> None:
    """Whatever a venue writes (digits of other scripts and superscripts included), the answer is a
    time or ``WireValueError``, never another exception."""
    with contextlib.suppress(WireValueError):
        assert seconds_text_to_ns(text) >= 0


@pytest.mark.parametrize(
    "bad", ["1700000000.12345x", "170000000x.123456", "+700000000.123456", "1700000000.123456.", "1700000000.12345²", "²"]
)
def test_bad_seconds_are_refused_after_good_ones(bad: str) -> None:
    seconds_text_to_ns("1700000000.000001")
    with pytest.raises(WireValueError):
        seconds_text_to_ns(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "2024-05-27 12:43:11Z",
        "2024-13-01T00:00:00Z",
        "2024-05-27T12:43:11.12aZ",
        "2024-05-27T12:43:11.5",
        17,
        "x" * 25 + "Z",
    ],
)
def test_bad_times_are_refused(bad: object) -> None:
    with pytest.raises(WireValueError):
        rfc3339_to_ns(bad)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_wire_decimal_is_exact_and_repeatable_or_refused(value: Decimal) -> None:
    text = str(value)
    if len(text) > TEXT_LIMIT or not -MAGNITUDE_LIMIT <= value.adjusted() <= MAGNITUDE_LIMIT:
        with pytest.raises(WireValueError):
            wire_decimal(text)
        return
    first, again = wire_decimal(text), wire_decimal(text)
    assert first == again == Decimal(text)
    assert str(first) == text


@given(wire_decimals())
def test_every_number_an_exchange_prints_is_accepted(value: Decimal) -> None:
    assert wire_decimal(str(value)) == value
    assert wire_quantity(str(value)) == check_quantity(value) == check_number(value) == value
    check_levels((BookLevel(value, value), BookLevel(-value, value)))


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "sNaN", 1.5, None])
def test_wire_decimal_refuses_non_numbers(bad: object) -> None:
    with pytest.raises(WireValueError):
        wire_decimal(bad)


@pytest.mark.parametrize(
    "bad",
    ["1e100000000", "1e999999999999", "1e41", "-1e41", "1e-41", "0e-41", "0e41", "0." + "0" * 41, "0" * 101],
)
def test_numbers_no_market_has_are_refused_before_anything_writes_them_out(bad: str) -> None:
    with pytest.raises(WireValueError):
        wire_decimal(bad)
    if len(bad) <= TEXT_LIMIT:
        with pytest.raises(WireValueError):
            check_number(Decimal(bad))
        with pytest.raises(WireValueError):
            check_levels((BookLevel(Decimal(1), Decimal(1)), BookLevel(Decimal(bad), Decimal(1))))


@pytest.mark.parametrize("good", ["1e40", "-9.99e40", "1e-40", "0." + "0" * 40, "0" * 100])
def test_the_magnitude_limits_are_inclusive(good: str) -> None:
    assert wire_decimal(good) == Decimal(good)


@pytest.mark.parametrize("bad", ["-0.1", "-1e-40", "-0"])
def test_quantities_are_never_negative(bad: str) -> None:
    assert wire_decimal(bad) == Decimal(bad)  # a price may be negative; a quantity carries no sign at all
    with pytest.raises(WireValueError):
        wire_quantity(bad)
    with pytest.raises(WireValueError):
        check_quantity(Decimal(bad))
    with pytest.raises(WireValueError):
        check_levels((BookLevel(Decimal(1), Decimal(bad)),))


@pytest.mark.parametrize("places", [-1, MAGNITUDE_LIMIT + 1, 100_000_000])
def test_decimal_places_are_bounded(places: int) -> None:
    with pytest.raises(WireValueError):
        check_places(places)
    assert check_places(0) == 0 and check_places(MAGNITUDE_LIMIT) == MAGNITUDE_LIMIT


def test_a_memo_is_bounded_by_the_characters_of_its_keys() -> None:
    memo: Memo[int] = Memo(len, limit=1_000, max_chars=1_000)
    for n in range(100):
        assert memo[f"{n:03d}" * 30] == 90
        assert sum(map(len, memo)) <= 1_000
    assert memo["x" * 1_001] == 1_001 and "x" * 1_001 not in memo  # longer than the whole budget: not kept
    memo.clear()
    for n in range(10):
        memo[f"{n:03d}" * 30]
    assert len(memo) == 10  # clearing gave the whole budget back
