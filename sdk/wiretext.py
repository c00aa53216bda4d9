"""Exact conversions from exchange wire text, shared by every adapter.

Numbers stay text until they become ``Decimal``; nothing passes through ``float``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Final

from schemas.events import BookLevel


class WireValueError(ValueError):
    """A wire value that is not what the protocol promises (wrong type, or not a number a market has)."""


MAGNITUDE_LIMIT: Final = 40
"""Numbers are accepted from ``1e-40`` to below ``1e41`` in size (and zero, with at most 40 places):
far wider than any price, size or volume a venue prints, and narrow enough that a number written out
in full, as book checksums do, is a few dozen characters, never the hundred million of ``1e100000000``."""
TEXT_LIMIT: Final = 100
"""Characters of a number's text: leading zeros could otherwise make one as long as a frame."""
_Decimal: Final = Decimal
"""Made for every new number text: ``Final`` aliases, C statics once compiled
(see ``hatch_build.py``)."""
_adjusted: Final[Callable[[Decimal], int]] = Decimal.adjusted
_is_finite: Final[Callable[[Decimal], bool]] = Decimal.is_finite
_is_signed: Final[Callable[[Decimal], bool]] = Decimal.is_signed
"""Decimal's methods, called unbound: from compiled code a third the cost of ``value.adjusted()``."""


def check_number(value: Decimal) -> Decimal:
    """``value`` if it is finite and within ``MAGNITUDE_LIMIT``; decoders apply it to every number.

    One call for most numbers: only an exponent of zero (1 to 9.99..., or NaN and infinities,
    whose ``adjusted()`` is zero too) takes a second look.
    """
    exponent = _adjusted(value)
    if exponent > MAGNITUDE_LIMIT or exponent < -MAGNITUDE_LIMIT or (exponent == 0 and not _is_finite(value)):
        limit = MAGNITUDE_LIMIT
        raise WireValueError(f"expected a finite number of magnitude 1e-{limit} to 1e{limit}, got {str(value)[:50]}")
    return value


def check_quantity(value: Decimal) -> Decimal:
    """``check_number``, and unsigned: a size, a volume, an amount (``-0`` is refused too)."""
    if _is_signed(check_number(value)):
        raise WireValueError(f"expected a quantity, got {str(value)[:50]}")
    return value


def check_levels(levels: tuple[BookLevel, ...]) -> None:
    """Every book level a number for its price and a quantity for its size."""
    for level in levels:
        check_number(level.price)
        check_quantity(level.qty)


def check_places(places: int) -> int:
    """A count of decimal places (a price or quantity precision): ``0`` to ``MAGNITUDE_LIMIT``."""
    if not 0 <= places <= MAGNITUDE_LIMIT:
        raise WireValueError(f"expected 0 to {MAGNITUDE_LIMIT} decimal places, got {places}")
    return places


def decimal_from_text(text: object) -> Decimal:
    """A ``Decimal`` from a JSON string, keeping every digit the exchange sent (``check_number`` holds)."""
    if type(text) is not str:
        raise WireValueError(f"expected a decimal string, got {text!r}")
    if len(text) > TEXT_LIMIT:
        raise WireValueError(f"a number text of {len(text)} characters (at most {TEXT_LIMIT})")
    return check_number(_Decimal(text))


_WIRE_DECIMALS_KEPT: Final = 8_192
_wire_decimals: Final[dict[object, Decimal]] = {}
"""Wire texts and their Decimals. Bounded by count (about 200 bytes an entry: 1.7 MB full, the price
of a hit rate of three in four on a busy Kraken feed) and, as no text over ``TEXT_LIMIT`` is
decoded, by size: at most 0.8 million characters of text, whatever a venue sends."""


def wire_decimal(text: object) -> Decimal:
    """``decimal_from_text`` memoized: exchanges repeat the same price and size texts constantly,
    and a hit costs one dictionary lookup. Exact: a text always maps to the Decimal it spells,
    and rejected texts are never stored. When full the memo starts afresh: tracking recency
    would cost every hit."""
    value = _wire_decimals.get(text)
    if value is None:
        value = decimal_from_text(text)
        if len(_wire_decimals) >= _WIRE_DECIMALS_KEPT:
            _wire_decimals.clear()
        _wire_decimals[text] = value
    return value


def wire_quantity(text: object) -> Decimal:
    """``wire_decimal`` for a quantity: not negative."""
    value = wire_decimal(text)
    if _is_signed(value):
        raise WireValueError(f"expected a quantity, got {text!r}")
    return value


def forget_wire_decimals() -> None:
    """Empty the memo (benchmarks start every pass cold)."""
    _wire_decimals.clear()


_last_seconds: Final[list[tuple[str, int]]] = [("", 0)]
"""The whole seconds of the last microsecond timestamp read, and their nanoseconds: a feed's
consecutive timestamps share them. One tuple, replaced whole, so a reader never sees half of one."""


def seconds_text_to_ns(text: object) -> int:
    """Nanoseconds since the epoch from decimal seconds text such as ``"1618678150.826417"``."""
    if type(text) is not str:
        raise WireValueError(f"expected a seconds string, got {text!r}")
    point = len(text) - 7
    if point > 0 and text[point] == ".":  # microseconds, as most exchanges write them
        micros = text[point + 1 :]
        if micros.isascii() and micros.isdigit():  # ASCII: isdigit() alone takes "²", which int() refuses
            whole = text[:point]
            last = _last_seconds[0]
            if whole == last[0]:
                return last[1] + int(micros) * 1_000
            if whole.isascii() and whole.isdigit():
                seconds_ns = int(whole) * 1_000_000_000
                _last_seconds[0] = (whole, seconds_ns)
                return seconds_ns + int(micros) * 1_000
    whole, _, fraction = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (fraction and not (fraction.isascii() and fraction.isdigit())):
        raise WireValueError(f"expected decimal seconds, got {text!r}")
    return int(whole) * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))


def rfc3339_to_ns(text: object) -> int:
    """Nanoseconds since the epoch from UTC RFC 3339 text: ``2024-05-27T12:43:11.798009Z``.

    Integer arithmetic only, so nanosecond fractions (``...:48:00.000000000Z``) survive exactly.
    The whole-second part is memoized: a stream's timestamps share it many times over.
    """
    if type(text) is not str or len(text) < 20 or text[-1] != "Z":
        raise WireValueError(f"expected an RFC 3339 UTC time, got {text!r}")
    head = text[:19]
    seconds = _seconds_of.get(head)
    if seconds is None:
        seconds = _whole_seconds(head)
        if len(_seconds_of) >= 4096:
            _seconds_of.clear()
        _seconds_of[head] = seconds
    fraction = text[20:-1]
    if len(fraction) == 6 and text[19] == "." and fraction.isdigit():  # microseconds: the usual case
        return seconds * 1_000_000_000 + int(fraction) * 1_000
    if len(text) == 20:
        return seconds * 1_000_000_000
    if text[19] != "." or not fraction.isdigit():
        raise WireValueError(f"expected an RFC 3339 UTC time, got {text!r}")
    return seconds * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))


_seconds_of: dict[str, int] = {}


def _whole_seconds(head: str) -> int:
    """Seconds since the epoch of ``YYYY-MM-DDTHH:MM:SS``."""
    if head[4] != "-" or head[7] != "-" or head[10] != "T" or head[13] != ":" or head[16] != ":":
        raise WireValueError(f"expected an RFC 3339 UTC time, got {head!r}")
    try:
        year, month, day = int(head[0:4]), int(head[5:7]), int(head[8:10])
        hour, minute, second = int(head[11:13]), int(head[14:16]), int(head[17:19])
    except ValueError:
        raise WireValueError(f"expected an RFC 3339 UTC time, got {head!r}") from None
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60):
        raise WireValueError(f"expected an RFC 3339 UTC time, got {head!r}")
    return _days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def ns_to_rfc3339(ns: int, digits: int = 6) -> str:
    """UTC RFC 3339 text with ``digits`` fractional digits (the inverse, for simulators)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{fraction // 10 ** (9 - digits):0{digits}d}Z"
