"""A toy venue for the session's rule tests: one JSON object per frame, readable at a glance.

Client requests: ``{"op": "subscribe" | "unsubscribe", "id": 1, "subs": ["trades:BTC/USD"]}``
and ``{"op": "ping"}``. Venue frames: ``{"ack": 1}`` (``"op": "unsubscribe"`` for those), ``{"refuse": 1, "why": "..."}``,
``{"trade": "BTC/USD", "price": "1.5"}``, ``{"book": "BTC/USD", "snapshot": true, "bids": [["1", "2"]],
"asks": [...], "checksum": 3}``, ``{"status": "maintenance"}``, ``{"bye": "why"}`` (asks for a
reconnect), ``{"heartbeat": true}``; a JSON array carries several of these in one frame.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from schemas.events import BookLevel, BookSnapshot, BookUpdate, Event, Status, Subscribed, Trade
from schemas.subscription import Subscription
from sdk.capabilities import Capabilities
from sdk.contract import Adapter, ChecksumScheme, Codec
from sdk.requests import RequestTracker
from sdk.symbols import AliasedSymbols


def key(subscription: Subscription) -> str:
    return f"{subscription.channel}:{subscription.symbol}"


class LevelCount:
    """A checksum any test can compute by hand: the number of levels on both sides."""

    levels = 10

    def fragment(self, price: Decimal, qty: Decimal) -> str:
        return "x"

    def checksum(self, asks: bytes, bids: bytes) -> int:
        return len(asks) + len(bids)


class ToyCodec(Codec):
    """The codec of the toy venue."""

    def __init__(self, exchange: str, symbols: Any) -> None:
        super().__init__(exchange, symbols)
        self.tracker: RequestTracker[int] = RequestTracker(exchange)
        self.resumed_from: Codec | None = None

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return [self._request("subscribe", subscriptions)]

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return [self._request("unsubscribe", subscriptions)]

    def ping(self) -> str:
        return '{"op":"ping"}'

    def book_checksum(self, symbol: str) -> ChecksumScheme:
        return LevelCount()

    def resume(self, previous: Codec) -> None:
        self.resumed_from = previous

    def _request(self, op: str, subscriptions: Sequence[Subscription]) -> str:
        request_id = self.next_request_id()
        self.tracker.sent(request_id, subscriptions, unsubscribe=op == "unsubscribe")
        return json.dumps({"op": op, "id": request_id, "subs": [key(s) for s in subscriptions]})

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        message = json.loads(frame)
        if isinstance(message, list):  # several messages in one frame
            return [event for part in message for event in self.decode_frame(json.dumps(part), received_ns)]
        if "ack" in message:
            return self.tracker.acknowledged(message["ack"], received_ns, unsubscribe=message.get("op") == "unsubscribe")
        if "refuse" in message:
            return self.tracker.refused(message["refuse"], message["why"], received_ns)
        if "trade" in message:
            price = Decimal(message["price"])
            return [
                Trade(
                    exchange=self.exchange,
                    symbol=message["trade"],
                    price=price,
                    qty=Decimal(1),
                    side="buy",
                    ts_exchange=received_ns,
                    ts_received=received_ns,
                )
            ]
        if "book" in message:
            kind = BookSnapshot if message.get("snapshot") else BookUpdate
            return [
                kind(
                    exchange=self.exchange,
                    symbol=message["book"],
                    depth=10,
                    bids=tuple(BookLevel(Decimal(p), Decimal(q)) for p, q in message.get("bids", [])),
                    asks=tuple(BookLevel(Decimal(p), Decimal(q)) for p, q in message.get("asks", [])),
                    checksum=message.get("checksum"),
                    ts_received=received_ns,
                )
            ]
        if "status" in message:
            return [Status(exchange=self.exchange, state=message["status"], ts_received=received_ns)]
        if "bye" in message:
            self.reconnect_reason = message["bye"]
            return []
        if "heartbeat" in message:
            return []
        return [self.error("unknown message", frame, received_ns)]


def toy_adapter(*, tolerates_crossed_books: bool = False) -> Adapter:
    return Adapter(
        name="toy",
        default_url="ws://127.0.0.1:1",
        capabilities=Capabilities(channels=frozenset({"trades", "book"}), book_depths=(10,)),
        symbols=AliasedSymbols({}),
        codec=ToyCodec,
        tolerates_crossed_books=tolerates_crossed_books,
    )


def subscribed(event: Event) -> bool:
    return isinstance(event, Subscribed)
