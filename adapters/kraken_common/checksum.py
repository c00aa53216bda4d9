"""Kraken's order-book checksum, shared by the v1 and v2 protocols.

CRC32 of the top ten asks (ascending) then the top ten bids (descending), each level written as
its price text then its quantity text with the decimal point removed and leading zeros stripped.
The text must be the exchange's exact text: trailing zeros count. v1 sends that text, and a
``Decimal`` built from it keeps it; v2 sends numbers, so the text is re-created with the pair's
price and quantity precision.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Final

CHECKSUM_LEVELS: Final = 10


def _fastest_crc32() -> Callable[[bytes, int], int]:
    """ISA-L's CRC-32 when the ``xfeeds[fast]`` extra installed it, else zlib's: the same function,
    four times faster on a checksum's few hundred bytes (carry-less multiplication instead of tables)."""
    try:
        from isal import isal_zlib  # noqa: PLC0415 - ISA-L is an optional extra
    except ImportError:
        return zlib.crc32
    crc32: Callable[[bytes, int], int] = isal_zlib.crc32
    return crc32


crc32: Final = _fastest_crc32()
"""CRC-32 (zlib's polynomial and conventions) of ``data``, continuing from ``value``."""


def text_fragment(text: str) -> str:
    """A number's checksum text: no decimal point, no leading zeros."""
    return text.replace(".", "").lstrip("0")


class KrakenChecksum:
    """Kraken's book checksum as a ``sdk.book.ChecksumScheme``.

    With no precisions each number is written exactly as it arrived (v1); with precisions it is
    written with that many decimal places (v2).
    """

    levels = CHECKSUM_LEVELS

    def __init__(self, price_places: int | None = None, qty_places: int | None = None) -> None:
        self._price_format = "f" if price_places is None else f".{price_places}f"
        self._qty_format = "f" if qty_places is None else f".{qty_places}f"
        self._exact = price_places is None and qty_places is None
        # str(value) already has this many characters after "." when it carries the pair's precision
        self._qty_tail = -1 if qty_places is None else qty_places + 1
        self._price_tail = -1 if price_places is None else price_places + 1

    def fragment(self, price: Decimal, qty: Decimal) -> str:
        # runs for every level that reaches the top of a verified book, hence the inlined text_fragment
        if self._exact:  # str() is the wire text, and three times faster than format()
            price_text, qty_text = str(price), str(qty)
            if "E" in price_text:  # str() turns to exponent notation below 1e-6
                price_text = format(price, "f")
            if "E" in qty_text:
                qty_text = format(qty, "f")
            return price_text.replace(".", "").lstrip("0") + qty_text.replace(".", "").lstrip("0")
        # str() is the text when the number already carries the precision: the usual case
        price_text, qty_text = str(price), str(qty)
        if len(price_text) - price_text.find(".") != self._price_tail or "E" in price_text:
            price_text = format(price, self._price_format)
        if len(qty_text) - qty_text.find(".") != self._qty_tail or "E" in qty_text:
            qty_text = format(qty, self._qty_format)
        return price_text.replace(".", "").lstrip("0") + qty_text.replace(".", "").lstrip("0")

    def checksum(self, asks: bytes, bids: bytes) -> int:
        return crc32(bids, crc32(asks, 0))


def checksum_of_text(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> int:
    """Checksum of a book given as (price text, qty text) pairs, best first on each side."""
    parts: list[str] = []
    for side in (asks, bids):
        for index, (price, qty) in enumerate(side):
            if index == CHECKSUM_LEVELS:
                break
            parts.append(text_fragment(price) + text_fragment(qty))
    return crc32("".join(parts).encode("ascii"), 0)
