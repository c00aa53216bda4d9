"""A bounded memo whose hits cost one dictionary lookup in C.

Hot paths look up the same few keys for every frame (symbol names, channel names). A method
with its own cache costs a Python call per lookup even on a hit; ``memo[key]`` on this dict costs
none, and only a miss runs Python.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Memo(dict[K, V]):
    """``memo[key]`` is ``compute(key)``, computed once per key.

    At ``limit`` entries it starts afresh, so keys an exchange (or a garbage frame) invents
    without end cannot grow it without bound. ``compute`` may raise; nothing is stored then.
    """

    __slots__ = ("_compute", "_limit")

    def __init__(self, compute: Callable[[K], V], limit: int = 4096) -> None:
        super().__init__()
        self._compute = compute
        self._limit = limit

    def __missing__(self, key: K) -> V:
        value = self._compute(key)
        if len(self) >= self._limit:
            self.clear()
        self[key] = value
        return value
