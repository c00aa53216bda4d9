"""The event classes the hot path makes and tests for every frame, as ``Final`` names.

Compiled modules read a ``Final`` name of another compiled module from a C static, but look a class
imported from an uncompiled module (every ``schemas`` struct) up in their module dictionary at each
use. The codecs, the feed session and its buffer take these names instead (see ``hatch_build.py``).
"""

from __future__ import annotations

from typing import Final

from schemas.events import BookLevel, BookSnapshot, BookUpdate, Quote, Ticker, Trade

BOOK_LEVEL: Final = BookLevel
BOOK_SNAPSHOT: Final = BookSnapshot
BOOK_UPDATE: Final = BookUpdate
QUOTE: Final = Quote
TICKER: Final = Ticker
TRADE: Final = Trade
