"""Order round-trip overhead inside xfeeds, in microseconds per order.

    python -m bench.order_roundtrip

Two legs of ``Account.place`` are measured on the account's real sans-I/O path (the Kraken v2
private codec and the account session, minus the socket):

- **out**: an ``OrderRequest`` to the ``add_order`` frame text handed to the socket (pre-trade
  check, rate counter, client id, encoding with the token, request tracking);
- **in**: the venue's reply frame to the settled ``OrderUpdate`` (decode, correlation by
  ``req_id``, the order's first update, settlement).

Each is reported beside a baseline measured in the same run: encoding the same request as a plain
dict with ``msgspec.json.encode``, and decoding the reply with ``msgspec.json.decode``. The ratios
say what the safety rules cost over the bare serialization; the microseconds what a strategy waits
inside xfeeds on top of the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import msgspec

from adapters.kraken.private import KrakenPrivateCodec
from adapters.kraken.ratelimits import COSTS
from bench.timing import compare, pin_to_one_core
from schemas.trading import OrderRequest
from sdk.account_session import AccountSession
from sdk.credentials import Secret
from sdk.ratelimit import RateTier, TradingRateCounter

ORDERS = 20_000
ORDER = OrderRequest(symbol="BTC/USD", side="buy", order_type="limit", qty=Decimal("0.0125"), price=Decimal("30000.5"))
INSTRUMENTS = json.dumps(
    {
        "channel": "instrument",
        "type": "snapshot",
        "data": {
            "assets": [],
            "pairs": [
                {
                    "symbol": "BTC/USD",
                    "base": "BTC",
                    "quote": "USD",
                    "status": "online",
                    "price_precision": 1,
                    "qty_precision": 8,
                    "price_increment": 0.1,
                    "qty_increment": 0.00000001,
                    "qty_min": 0.0001,
                    "cost_min": 0.5,
                }
            ],
        },
    }
)


def main() -> None:
    pin_to_one_core()
    results = {
        "out": compare({"xfeeds": _outbound(), "msgspec.json.encode": _plain_encode()}, baseline="msgspec.json.encode"),
        "in": compare({"xfeeds": _inbound(), "msgspec.json.decode": _plain_decode()}, baseline="msgspec.json.decode"),
    }
    titles = {
        "out": "request built to frame handed to the socket",
        "in": "reply frame to the settled OrderUpdate",
    }
    print(f"\norder round trip inside xfeeds, {ORDERS:,} orders per round (median of 5 rounds)")
    total = 0.0
    for leg, result in results.items():
        rate, _ = result["xfeeds"]
        baseline_name = next(name for name in result if name != "xfeeds")
        base_rate, _ = result[baseline_name]
        total += 1e6 / rate
        print(
            f"  {leg:<3} {titles[leg]:<45} {1e6 / rate:7.2f} us/order   "
            f"({baseline_name}: {1e6 / base_rate:5.2f} us, {base_rate / rate:5.1f}x as fast)"
        )
    print(f"  both legs: {total:.2f} us of xfeeds per order round trip")


def _ready_session() -> AccountSession:
    unlimited = TradingRateCounter(RateTier(threshold=1e12, decay_per_s=1e12), COSTS)
    session = AccountSession(KrakenPrivateCodec(), unlimited)
    session.connection_made(0.0, 0)
    session.token_received(Secret("bench-token"))
    session.take_outgoing()
    snapshots = [
        INSTRUMENTS,
        '{"channel":"executions","type":"snapshot","data":[],"sequence":1}',
        '{"channel":"balances","type":"snapshot","data":[{"asset":"USD","balance":1000000.0}],"sequence":1}',
    ]
    session.receive(snapshots, 0.0, 0)
    assert session.state == "ready"
    return session


def _outbound() -> Callable[[], int]:
    def run() -> int:
        session = _ready_session()
        for _ in range(ORDERS):
            session.place(ORDER, 0.0)
            for frame in session.take_outgoing():
                session.sending(frame, 0.0)
        return ORDERS

    return run


def _inbound(calls: int = 6) -> Callable[[], int]:
    """Replies to orders placed beforehand, one prepared session per call (warm-up and 5 rounds),
    so placing them is outside the timed part."""
    prepared = []
    for _ in range(calls):
        session = _ready_session()
        replies = []
        for number in range(ORDERS):
            session.place(ORDER, 0.0)
            (frame,) = session.take_outgoing()
            session.sending(frame, 0.0)
            replies.append(_reply(frame.req_id, number))
        prepared.append((session, replies))

    def run() -> int:
        session, replies = prepared.pop()
        for reply in replies:
            session.receive((reply,), 0.0, 0)
            session.settled.clear()
        assert not session.orders or all(o.state == "pending_new" for o in session.orders.values())
        return len(replies)

    return run


def _reply(req_id: int, number: int) -> bytes:
    return (
        f'{{"method":"add_order","req_id":{req_id},"result":{{"order_id":"O{number:05d}-ABCDE-FGHIJK"}},'
        f'"success":true,"time_in":"2024-05-18T12:05:50.293682Z","time_out":"2024-05-18T12:05:50.300542Z"}}'
    ).encode()


def _plain_encode() -> Callable[[], int]:
    encode = msgspec.json.encode
    params = {"order_type": "limit", "side": "buy", "symbol": "BTC/USD", "order_qty": 0.0125, "limit_price": 30000.5}

    def run() -> int:
        for number in range(ORDERS):
            encode({"method": "add_order", "params": {**params, "token": "bench-token"}, "req_id": number})
        return ORDERS

    return run


def _plain_decode() -> Callable[[], int]:
    replies = [_reply(number, number) for number in range(ORDERS)]
    decode = msgspec.json.decode

    def run() -> int:
        for reply in replies:
            decode(reply)
        return ORDERS

    return run


if __name__ == "__main__":
    main()
