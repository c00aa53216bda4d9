"""Mapping between the shared ``BASE/QUOTE`` symbols and an exchange's wire names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from sdk.memo import Memo


class SymbolMap(Protocol):
    """Two-way symbol translation an adapter provides."""

    def to_wire(self, symbol: str) -> str:
        """The exchange's name for a normalized ``BASE/QUOTE`` symbol."""
        ...

    def from_wire(self, wire: str) -> str:
        """The normalized symbol for an exchange's name (unknown shapes come back unchanged)."""
        ...


class AliasedSymbols:
    """Symbols that differ from the shared form only by per-asset aliases.

    ``aliases`` maps the exchange's asset code to the common one (Kraken v1: ``XBT`` -> ``BTC``).
    Both directions are memoized; ``from_wire`` runs for every received frame, so a known name
    costs it one dictionary lookup.
    """

    def __init__(self, aliases: Mapping[str, str], separator: str = "/") -> None:
        self._to_common = dict(aliases)
        self._to_wire = {common: wire for wire, common in aliases.items()}
        self._separator = separator
        self.to_wire: Callable[[str], str] = Memo(self._wire_name).__getitem__
        self.from_wire: Callable[[str], str] = Memo(self._common_name).__getitem__

    def _wire_name(self, symbol: str) -> str:
        base, _, quote = symbol.partition("/")
        return self._translate(base, quote, self._to_wire, self._separator)

    def _common_name(self, wire: str) -> str:
        base, found, quote = wire.partition(self._separator)
        return self._translate(base, quote, self._to_common, "/") if found else wire

    @staticmethod
    def _translate(base: str, quote: str, table: Mapping[str, str], separator: str) -> str:
        return f"{table.get(base, base)}{separator}{table.get(quote, quote)}"
