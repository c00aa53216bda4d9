"""What a user asks a feed for, in exchange-agnostic terms."""

from __future__ import annotations

from typing import Literal

import msgspec

Channel = Literal["trades", "book", "ticker", "quotes", "candles", "instruments"]


class Subscription(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One stream: a channel for one symbol, with its depth (book) or interval (candles).

    Values are hashable and compare by content, so a feed keeps them in sets and a user can match
    an acknowledgement to the request that caused it with ``==``.
    """

    channel: Channel
    symbol: str
    depth: int | None = None
    interval: str | None = None

    def __str__(self) -> str:
        option = f"@{self.depth}" if self.depth is not None else ""
        option += f"@{self.interval}" if self.interval is not None else ""
        return f"{self.channel}:{self.symbol}{option}"
