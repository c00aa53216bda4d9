"""Exchange adapters, found by name through the ``xfeeds.adapters`` entry point group.

Built-in adapters and those of other installed packages register the same way, by an entry point
whose object is an ``sdk.Adapter``::

    [project.entry-points."xfeeds.adapters"]
    myexchange = "myexchange_xfeeds:adapter"

An adapter's module is imported only when the adapter is asked for by name.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from sdk.contract import Adapter

ENTRY_POINT_GROUP = "xfeeds.adapters"


def names() -> list[str]:
    """Names of every adapter installed, sorted."""
    return sorted(_declared())


def get(name: str) -> Adapter:
    """The adapter called ``name``; LookupError names the available ones otherwise."""
    point = _declared().get(name)
    if point is None:
        raise LookupError(f"no adapter named {name!r}; available: {', '.join(names())}")
    adapter = point.load()
    if not isinstance(adapter, Adapter):
        raise TypeError(f"{point.value} is a {type(adapter).__name__}, not an sdk.Adapter")
    return adapter


@cache
def _declared() -> dict[str, EntryPoint]:
    """Every declared adapter entry point by name (read once; ``refresh()`` reads them again)."""
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def refresh() -> None:
    """Read the installed entry points again (after installing an adapter package at run time)."""
    _declared.cache_clear()
