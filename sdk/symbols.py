"""Mapping between the shared ``BASE/QUOTE`` symbols and an exchange's wire names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


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
    Both directions are memoized, because ``from_wire`` runs once per received frame.
    """

    def __init__(self, aliases: Mapping[str, str], separator: str = "/") -> None:
        self._to_common = dict(aliases)
        self._to_wire = {common: wire for wire, common in aliases.items()}
        self._separator = separator
        self._from_wire_cache: dict[str, str] = {}
        self._to_wire_cache: dict[str, str] = {}

    def to_wire(self, symbol: str) -> str:
        wire = self._to_wire_cache.get(symbol)
        if wire is None:
            base, _, quote = symbol.partition("/")
            wire = self._translate(base, quote, self._to_wire, self._separator)
            self._to_wire_cache[symbol] = wire
        return wire

    def from_wire(self, wire: str) -> str:
        symbol = self._from_wire_cache.get(wire)
        if symbol is None:
            base, found, quote = wire.partition(self._separator)
            symbol = self._translate(base, quote, self._to_common, "/") if found else wire
            self._from_wire_cache[wire] = symbol
        return symbol

    @staticmethod
    def _translate(base: str, quote: str, table: Mapping[str, str], separator: str) -> str:
        return f"{table.get(base, base)}{separator}{table.get(quote, quote)}"
