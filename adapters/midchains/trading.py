"""Midchains trading: the market-data socket itself, logged in on it (no REST, no token), and
the private request limit the account paces its frames to.

Midchains publishes no per-pair trading counter, only a limit on private requests of any kind
(5 a second, bursts of 10, per user id). The account's per-pair counter is a required part of
every venue, so Midchains' charges nothing and never binds; the request limit does the pacing.
"""

from __future__ import annotations

from typing import Final

from adapters.midchains.dialect import DEFAULT_DIALECT
from adapters.midchains.private import MidchainsPrivateCodec
from sdk.pacing import RequestLimit
from sdk.ratelimit import RateTier, TradingRateCounter, TransactionCost
from sdk.trading_contract import TradingAdapter

SOCKET_URL: Final = "wss://ws-sandbox.midchains.com:8081/"
"""The one socket for market data and trading."""
PRIVATE_REQUEST_LIMIT: Final = RequestLimit(per_second=5, burst=10)
"""Documented: private requests per user id (cancels and queries count too)."""
UNCOUNTED: Final = TransactionCost()
"""A transaction that costs nothing on a counter Midchains does not have."""
NO_COUNTER: Final = RateTier(threshold=1, decay_per_s=1)
"""The tier of that counter: nothing is ever charged against it."""


def trading_rate_counter(tier: RateTier = NO_COUNTER) -> TradingRateCounter:
    """A per-pair counter that every transaction leaves at zero: Midchains has none."""
    costs = dict.fromkeys(("add", "amend", "cancel", "batch_add"), UNCOUNTED)
    return TradingRateCounter(tier, costs)


trading = TradingAdapter(
    default_url=SOCKET_URL,
    default_rest_url="",
    codec=MidchainsPrivateCodec,
    authenticator=None,
    rate_counter=trading_rate_counter,
    rate_tier=NO_COUNTER,
    request_limit=PRIVATE_REQUEST_LIMIT,
    login_window_s=DEFAULT_DIALECT.login_window_s,
    shares_market_socket=True,
)
