"""How shared subscriptions map onto Kraken v2 channels and parameters."""

from __future__ import annotations

from adapters.kraken.wire import Params, Result
from adapters.kraken_common.limits import CANDLE_INTERVALS, OHLC_MINUTES
from schemas.subscription import Subscription
from sdk.subscriptions import format_interval
from sdk.symbols import AliasedSymbols

SYMBOLS = AliasedSymbols({})
"""v2 already names assets the common way: ``BTC/USD``, ``DOGE/USD``."""

_MINUTES = dict(zip(CANDLE_INTERVALS, OHLC_MINUTES, strict=True))


def params_of(subscription: Subscription) -> Params:
    """The ``params`` of a v2 request for ``subscription`` (without its symbol list)."""
    match subscription.channel:
        case "trades":
            return Params(channel="trade")
        case "book":
            return Params(channel="book", depth=subscription.depth)
        case "ticker":
            return Params(channel="ticker")
        case "quotes":  # the ticker channel, published on every best bid/offer change
            return Params(channel="ticker", event_trigger="bbo")
        case "candles":
            assert subscription.interval is not None
            return Params(channel="ohlc", interval=_MINUTES[subscription.interval])
        case "instruments":
            return Params(channel="instrument", snapshot=True)


def subscription_of(result: Result, symbol: str | None) -> Subscription | None:
    """The shared subscription an acknowledgement's ``result`` stands for (None if unknown)."""
    channel = result.channel
    if channel == "instrument":
        return Subscription(channel="instruments", symbol="*")
    if symbol is None:
        return None
    if channel == "trade":
        return Subscription(channel="trades", symbol=symbol)
    if channel == "book":
        return Subscription(channel="book", symbol=symbol, depth=result.depth or 10)
    if channel == "ticker":
        return Subscription(channel="quotes" if result.event_trigger == "bbo" else "ticker", symbol=symbol)
    if channel == "ohlc":
        return Subscription(channel="candles", symbol=symbol, interval=format_interval((result.interval or 1) * 60))
    return None
