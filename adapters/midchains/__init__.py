"""Midchains (``wss://ws-sandbox.midchains.com:8081/``), adapter name ``midchains``.

Midchains publishes an order-level book and trades; the adapter aggregates the book into the
shared L2 events and derives best bid/ask quotes from it. Behaviour its documentation leaves open
is assumed in one place, ``adapters.midchains.dialect``.
"""

from __future__ import annotations

from adapters.midchains.codec import MidchainsCodec
from adapters.midchains.symbols import SYMBOLS
from adapters.midchains.trading import SOCKET_URL, trading
from sdk.capabilities import Capabilities
from sdk.contract import Adapter
from sdk.pacing import RequestLimit

adapter = Adapter(
    name="midchains",
    default_url=SOCKET_URL,
    capabilities=Capabilities(
        channels=frozenset({"trades", "book", "quotes"}),
        book_depths=(1, 5, 10, 25, 50, 100, 500, 1000),
        wildcard=frozenset({"book"}),
    ),
    symbols=SYMBOLS,
    codec=MidchainsCodec,
    request_limit=RequestLimit(per_second=3, burst=6),
    simulator="adapters.midchains.simulator:MidchainsSimulator",
    tolerates_crossed_books=True,  # A8: the engine removes matched entries just after the trade
    trading=trading,
)
