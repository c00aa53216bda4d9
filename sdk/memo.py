"""A bounded memo whose hits cost one dictionary lookup in C.

Hot paths look up the same few keys for every frame (symbol names, channel names, number texts).
A method with its own cache costs a Python call per lookup even on a hit; ``memo[key]`` on this
dict costs none, and only a miss runs Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

V = TypeVar("V")


class Memo(dict[str, V]):
    """``memo[key]`` is ``compute(key)``, computed once per key.

    Keys come from the wire, so an exchange (or a garbage frame) can invent them without end and
    make them as long as a frame: the memo starts afresh at ``limit`` keys or ``max_chars``
    characters of keys, whichever comes first, and never stores a key longer than ``max_chars``.
    ``compute`` may raise; nothing is stored then.
    """

    __slots__ = ("_chars", "_compute", "_limit", "_max_chars")

    def __init__(self, compute: Callable[[str], V], limit: int = 4096, max_chars: int = 256 * 1024) -> None:
        super().__init__()
        self._compute = compute
        self._limit = limit
        self._max_chars = max_chars
        self._chars = 0

    def __missing__(self, key: str) -> V:
        value = self._compute(key)
        size = len(key)
        if size > self._max_chars:
            return value
        if len(self) >= self._limit or self._chars + size > self._max_chars:
            self.clear()
        self._chars += size
        self[key] = value
        return value

    def clear(self) -> None:
        super().clear()
        self._chars = 0
