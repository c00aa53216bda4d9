"""API credentials that keep their secret out of reprs, logs, pickles, encodings and error texts.

A trading key leaks most often by accident: an object logged for debugging, a traceback, a pickle
sent to a worker, a config dumped to JSON. So the secret lives in a ``Secret`` whose every printable
form is redacted and which refuses to be pickled or encoded; only ``reveal()``, called by the code
that signs requests, returns the text. The API key is an identifier rather than a secret, but it
still names the account: printed forms show only its first characters.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import NoReturn, Self, SupportsIndex, final

KEY_PREFIX_SHOWN = 4
"""How many leading characters of an API key printed forms show, enough to tell keys apart."""


class _Sealed:
    """Read-only, copied as itself and never pickled: what holds a secret must not be written out."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be pickled: give each process credentials from its environment")

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


@final
class Secret(_Sealed):
    """A secret text whose repr and str are redacted and which cannot be pickled or encoded."""

    __slots__ = ("_text",)
    _text: str

    def __init__(self, text: str) -> None:
        object.__setattr__(self, "_text", text)

    def reveal(self) -> str:
        """The secret itself, for the code that signs with it; never for printing."""
        return self._text

    def __repr__(self) -> str:
        return "Secret(<redacted>)"


@final
class Credentials(_Sealed):
    """An API key and its secret, read-only; printed as ``Credentials(key='AbCd…', secret=<redacted>)``.

    Not a dataclass and not a msgspec struct on purpose: ``dataclasses.asdict``, ``msgspec`` and
    ``json`` refuse it, so no generic serializer can write the secret out.
    """

    __slots__ = ("_key", "_secret")
    _key: str
    _secret: Secret

    def __init__(self, *, key: str, secret: str) -> None:
        if not key or not secret:
            raise ValueError(f"credentials need a non-empty {'key' if not key else 'secret'}")
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_secret", Secret(secret))

    @classmethod
    def from_env(cls, prefix: str, environ: Mapping[str, str] = os.environ) -> Credentials:
        """Credentials from ``{prefix}_KEY`` and ``{prefix}_SECRET`` (e.g. ``XFEEDS_KRAKEN``).

        Surrounding whitespace is dropped (a secret pasted from a file keeps its newline); a missing
        or empty variable raises ``LookupError`` naming the variable, never a value.
        """
        names = (f"{prefix}_KEY", f"{prefix}_SECRET")
        values = [environ.get(name, "").strip() for name in names]
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise LookupError(f"API credentials not found: set {' and '.join(missing)} in the environment")
        key, secret = values
        return cls(key=key, secret=secret)

    @property
    def key(self) -> str:
        """The API key, as sent to the venue in clear (it identifies the account; it signs nothing)."""
        return self._key

    @property
    def secret(self) -> Secret:
        """The secret that signs requests; ``secret.reveal()`` is its text."""
        return self._secret

    def __repr__(self) -> str:
        return f"Credentials(key={self._key[:KEY_PREFIX_SHOWN] + '…'!r}, secret=<redacted>)"


def shown_url(url: str) -> str:
    """``url`` as it may be shown (in events, logs and errors): its password, if any, blanked
    (``redis://:***@host:6379/0``); a server's address often carries one."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
