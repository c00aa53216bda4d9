"""The shared schema: exact numbers, JSON round trips, and a JSON Schema that is never stale."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from schemas import BookLevel, BookUpdate, Event, Status, Subscribed, Subscription, Trade
from schemas.jsonschema import SCHEMA_PATH, render


def test_committed_json_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run: xfeeds schema --write"


def test_schema_lists_every_event_type() -> None:
    schema = msgspec.json.decode(SCHEMA_PATH.read_bytes())
    names = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["anyOf"]}
    assert names == {t.__name__ for t in Event.__args__}  # type: ignore[attr-defined]


EVENTS: list[Event] = [
    Trade(
        exchange="kraken-v1",
        symbol="BTC/USD",
        price=Decimal("27119.90000"),
        qty=Decimal("0.00000001"),
        side="sell",
        ts_exchange=1,
        ts_received=2,
    ),
    BookUpdate(
        exchange="kraken-v1",
        symbol="BTC/USD",
        depth=10,
        bids=(BookLevel(Decimal("1.10"), Decimal("0E-8"), True),),
        asks=(),
        checksum=3572756970,
        ts_received=2,
    ),
    Status(exchange="kraken-v1", state="maintenance", ts_received=3),
    Subscribed(
        exchange="kraken-v1",
        symbol="BTC/USD",
        subscription=Subscription(channel="book", symbol="BTC/USD", depth=10),
        ts_received=4,
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_json_round_trip_keeps_type_and_digits(event: Event) -> None:
    wire = msgspec.json.encode(event)
    assert msgspec.json.decode(wire, type=Event) == event
    assert b'"type":"' + type(event).__name__.encode() in wire


def test_decimals_keep_trailing_zeros_through_json() -> None:
    event = EVENTS[0]
    assert b'"price":"27119.90000"' in msgspec.json.encode(event)


def test_events_are_immutable() -> None:
    with pytest.raises(AttributeError):
        EVENTS[0].symbol = "ETH/USD"  # type: ignore[misc]
