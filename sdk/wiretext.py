"""Exact conversions from exchange wire text, shared by every adapter.

Numbers stay text until they become ``Decimal``; nothing passes through ``float``.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache


class WireValueError(ValueError):
    """A wire value that is not what the protocol promises (wrong type or not a finite number)."""


def decimal_from_text(text: object) -> Decimal:
    """A finite ``Decimal`` from a JSON string, keeping every digit the exchange sent."""
    if type(text) is not str:
        raise WireValueError(f"expected a decimal string, got {text!r}")
    value = Decimal(text)
    if not value.is_finite():
        raise WireValueError(f"expected a finite decimal, got {text!r}")
    return value


wire_decimal = lru_cache(maxsize=16_384)(decimal_from_text)
"""``decimal_from_text`` memoized: exchanges repeat the same price and size texts constantly, and a
hit (a C-level dictionary lookup) costs a fraction of building a Decimal. Exact: a text always
maps to the Decimal it spells, and rejected texts are never cached."""


def seconds_text_to_ns(text: object) -> int:
    """Nanoseconds since the epoch from decimal seconds text such as ``"1618678150.826417"``."""
    if type(text) is not str:
        raise WireValueError(f"expected a seconds string, got {text!r}")
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise WireValueError(f"expected decimal seconds, got {text!r}")
    if len(fraction) == 6:  # microseconds, as most exchanges write them: one int() instead of two
        return int(whole + fraction) * 1_000
    return int(whole) * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))
