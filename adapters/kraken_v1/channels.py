"""How shared subscriptions and symbols map onto Kraken v1 channel names, options and pairs."""

from __future__ import annotations

from adapters.kraken_common.limits import CANDLE_INTERVALS, OHLC_MINUTES
from adapters.kraken_v1.wire import SubscriptionOptions
from schemas.subscription import Channel, Subscription
from sdk.subscriptions import format_interval
from sdk.symbols import AliasedSymbols

SYMBOLS = AliasedSymbols({"XBT": "BTC", "XDG": "DOGE"})
"""v1 uses Kraken's legacy asset codes on the wire."""

DEFAULT_BOOK_DEPTH = 10
DEFAULT_OHLC_MINUTES = 1

_WIRE_NAME: dict[Channel, str] = {
    "trades": "trade",
    "book": "book",
    "ticker": "ticker",
    "quotes": "spread",
    "candles": "ohlc",
}
_CHANNEL = {wire: channel for channel, wire in _WIRE_NAME.items()}
_MINUTES_BY_INTERVAL = dict(zip(CANDLE_INTERVALS, OHLC_MINUTES, strict=True))


def wire_options(subscription: Subscription) -> SubscriptionOptions:
    """The ``subscription`` object of a v1 request for ``subscription``."""
    name = _WIRE_NAME[subscription.channel]
    if subscription.channel == "book":
        return SubscriptionOptions(name=name, depth=subscription.depth)
    if subscription.channel == "candles":
        assert subscription.interval is not None
        return SubscriptionOptions(name=name, interval=_MINUTES_BY_INTERVAL[subscription.interval])
    return SubscriptionOptions(name=name)


def channel_name(options: SubscriptionOptions) -> str:
    """The ``channelName`` data frames carry: ``book-10``, ``ohlc-5``, ``trade``, ..."""
    if options.name == "book":
        return f"book-{options.depth or DEFAULT_BOOK_DEPTH}"
    if options.name == "ohlc":
        return f"ohlc-{options.interval or DEFAULT_OHLC_MINUTES}"
    return options.name


def subscription_from_wire(options: SubscriptionOptions, symbol: str) -> Subscription | None:
    """The shared subscription a v1 ``subscription`` object stands for (None if unknown)."""
    channel = _CHANNEL.get(options.name)
    if channel is None:
        return None
    if channel == "book":
        return Subscription(channel=channel, symbol=symbol, depth=options.depth or DEFAULT_BOOK_DEPTH)
    if channel == "candles":
        return Subscription(
            channel=channel, symbol=symbol, interval=candle_interval(options.interval or DEFAULT_OHLC_MINUTES)
        )
    return Subscription(channel=channel, symbol=symbol)


def candle_interval(minutes: int) -> str:
    """The shared interval name for an ohlc interval in minutes."""
    return format_interval(minutes * 60)
