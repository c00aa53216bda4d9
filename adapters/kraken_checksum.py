"""Kraken's order-book checksum, shared by the v1 and v2 protocols.

CRC32 of the top ten asks (ascending) then the top ten bids (descending), each level written as
its price text then its quantity text with the decimal point removed and leading zeros stripped.
The text must be the exchange's exact text: trailing zeros count.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

CHECKSUM_LEVELS = 10


def level_fragment(price_text: str, qty_text: str) -> str:
    """One level's contribution to the checksum input."""
    return price_text.replace(".", "").lstrip("0") + qty_text.replace(".", "").lstrip("0")


def checksum(asks: Iterable[tuple[str, str]], bids: Iterable[tuple[str, str]]) -> int:
    """Checksum of a book given as (price text, qty text) pairs, best first on each side."""
    parts: list[str] = []
    for side in (asks, bids):
        for index, (price, qty) in enumerate(side):
            if index == CHECKSUM_LEVELS:
                break
            parts.append(level_fragment(price, qty))
    return zlib.crc32("".join(parts).encode("ascii"))
