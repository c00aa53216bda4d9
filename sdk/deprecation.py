"""Deprecated aliases: a public name that changes keeps working, with a warning, for a release."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def deprecated_alias(target: Callable[P, R], old: str, new: str) -> Callable[P, R]:
    """``target`` under its former name ``old``, warning that ``new`` replaces it."""

    @functools.wraps(target)
    def alias(*args: P.args, **kwargs: P.kwargs) -> R:
        warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return target(*args, **kwargs)

    alias.__doc__ = f"Deprecated: use ``{new}``."
    return alias
