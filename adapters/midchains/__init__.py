"""Midchains (``wss://ws-sandbox.midchains.com:8081/``), adapter name ``midchains``.

Midchains publishes an order-level book and trades; the adapter aggregates the book into the
shared L2 events and derives best bid/ask quotes from it. Behaviour its documentation leaves open
is assumed in one place, ``adapters.midchains.dialect``.
"""

from __future__ import annotations

from adapters.midchains.codec import MidchainsCodec
from adapters.midchains.simulator import MidchainsSimulator
from adapters.midchains.symbols import SYMBOLS
from sdk.adapter import Adapter
from sdk.capabilities import Capabilities
from sdk.pacing import RequestLimit

PRODUCTION_URL = "wss://ws.midchains.com:8081"

adapter = Adapter(
    name="midchains",
    default_url="wss://ws-sandbox.midchains.com:8081/",
    capabilities=Capabilities(
        channels=frozenset({"trades", "book", "quotes"}),
        book_depths=(1, 5, 10, 25, 50, 100, 500, 1000),
        derived=frozenset({"quotes"}),
        wildcard=frozenset({"book"}),
    ),
    symbols=SYMBOLS,
    new_codec=lambda: MidchainsCodec(SYMBOLS),
    simulator=MidchainsSimulator,
    request_limit=RequestLimit(per_second=3, burst=6),
)
