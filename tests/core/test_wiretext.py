"""Exact conversions from wire text: numbers and times."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.wiretext import WireValueError, ns_to_rfc3339, rfc3339_to_ns, seconds_text_to_ns, wire_decimal

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
def test_wire_decimal_is_exact_and_repeatable(value: Decimal) -> None:
    text = str(value)
    first, again = wire_decimal(text), wire_decimal(text)
    assert first == again == Decimal(text)
    assert str(first) == text


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "sNaN", 1.5, None])
def test_wire_decimal_refuses_non_numbers(bad: object) -> None:
    with pytest.raises(WireValueError):
        wire_decimal(bad)
