"""Kraken v2 decode + maintained book + checksum verification, against ccxt.pro and a ceiling.

    pip install -e '.[bench]'    # ccxt, for the comparison
    python -m bench.kraken_v2_pipeline

One corpus of v2 messages (book-10 with a checksum on every message, trades, tickers) goes through
(a) the xfeeds feed's own decode path (codec, book keeper, checksum verified with the pair's
precision from the instrument channel), (b) ccxt.pro's Kraken handler on a ccxt WebSocket client
with no connection (its book checksum is off by default, as ccxt ships it), and (c) plain
``msgspec.json.decode`` as the ceiling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import sdk
from bench.corpus import kraken_v2_frames
from bench.timing import against_peer, pin_to_one_core
from sdk import registry
from sdk.session import FeedSession
from sdk.wiretext import forget_wire_decimals

FRAMES = 120_000


def main() -> None:
    pin_to_one_core()
    frames = kraken_v2_frames(FRAMES)
    kinds = {kind: sum(f'"channel":"{kind}"' in f for f in frames) for kind in ("book", "trade", "ticker")}
    print(f"corpus: {len(frames):,} messages ({', '.join(f'{n:,} {k}' for k, n in kinds.items())})")
    against_peer(
        "v2 decode + book + checksum verified, one message at a time (target: xfeeds >= 5x ccxt.pro)",
        frames,
        _xfeeds(frames),
        "ccxt.pro kraken",
        _ccxt(frames),
    )


def _xfeeds(frames: list[str]) -> Callable[[], int]:
    encoded = [frame.encode() for frame in frames]

    def run() -> int:
        forget_wire_decimals()
        session = FeedSession(registry.get("kraken"))  # fresh: precisions come from the corpus
        session.subscribe([sdk.book("BTC/USD"), sdk.trades("BTC/USD"), sdk.ticker("BTC/USD")])
        receive = session.receive
        for frame in encoded:
            receive([frame], 0.0, 0)
        assert session.book_stats.failures == 0
        assert session.book_stats.checks > 0
        return len(encoded)

    return run


def _ccxt(frames: list[str]) -> Callable[[], int] | None:
    try:
        import ccxt.pro
    except ImportError:
        return None
    loop = asyncio.new_event_loop()
    exchange = ccxt.pro.kraken({"asyncio_loop": loop})
    exchange.set_markets(
        [
            {
                "id": "XXBTZUSD",
                "symbol": "BTC/USD",
                "base": "BTC",
                "quote": "USD",
                "baseId": "XXBT",
                "quoteId": "ZUSD",
                "active": True,
                "type": "spot",
                "spot": True,
                "margin": False,
                "swap": False,
                "future": False,
                "option": False,
                "contract": False,
                "precision": {"amount": 1e-8, "price": 0.1},
                "limits": {"amount": {"min": 0.0001}},
                "info": {"wsname": "XBT/USD", "altname": "XBTUSD"},
            }
        ]
    )

    async def replay() -> int:
        client = exchange.client("wss://ws.kraken.com/v2")
        client.subscriptions[exchange.get_message_hash("orderbook", None, "BTC/USD")] = {"limit": 10}
        handle = client.handle_text_or_binary_message
        for frame in frames:
            handle(frame)
        return len(frames)

    return lambda: loop.run_until_complete(replay())


if __name__ == "__main__":
    main()
