"""The built-in exchange adapters: ``kraken`` (v2), ``kraken_v1`` and ``midchains``.

Each registers through the ``xfeeds.adapters`` entry point declared in the project's
``pyproject.toml`` and is found by name with ``sdk.registry.get``. ``get`` and ``names`` here are
the deprecated spellings of those.
"""

from __future__ import annotations

import warnings

from sdk import registry
from sdk.contract import Adapter


def names() -> list[str]:
    """Deprecated: use ``sdk.registry.names``."""
    warnings.warn("adapters.names() is deprecated; use sdk.registry.names()", DeprecationWarning, stacklevel=2)
    return registry.names()


def get(name: str) -> Adapter:
    """Deprecated: use ``sdk.registry.get``."""
    warnings.warn("adapters.get() is deprecated; use sdk.registry.get()", DeprecationWarning, stacklevel=2)
    return registry.get(name)
