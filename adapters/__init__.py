"""Exchange adapters, found by name.

Built-in adapters are listed here; any installed package can add more by declaring an entry point
in the ``xfeeds.adapters`` group whose object is an ``sdk.adapter.Adapter``::

    [project.entry-points."xfeeds.adapters"]
    myexchange = "myexchange_xfeeds:adapter"
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from sdk.adapter import Adapter

ENTRY_POINT_GROUP = "xfeeds.adapters"

_BUILT_IN = {
    "kraken": "adapters.kraken:adapter",
    "kraken-v1": "adapters.kraken_v1:adapter",
    "midchains": "adapters.midchains:adapter",
}


def names() -> list[str]:
    """Names of every adapter available, built-in and installed, sorted."""
    return sorted(_BUILT_IN.keys() | _discovered().keys())


def get(name: str) -> Adapter:
    """The adapter called ``name``; LookupError names the available ones otherwise."""
    target = _BUILT_IN.get(name) or _discovered().get(name)
    if target is None:
        raise LookupError(f"no adapter named {name!r}; available: {', '.join(names())}")
    module_name, _, attribute = target.partition(":")
    adapter = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(adapter, Adapter):
        raise TypeError(f"{target} is a {type(adapter).__name__}, not an sdk.adapter.Adapter")
    return adapter


@cache
def _discovered() -> dict[str, str]:
    """Adapters other packages declare, as ``module:attribute`` targets (built-ins win clashes)."""
    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP) if point.name not in _BUILT_IN}
