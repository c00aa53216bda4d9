"""The adapter contract: the adapter's name labels every event, defaults live in the codec base,
and a codec can ask the feed for a new connection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import anyio
import pytest

import sdk
from adapters.kraken_v1.codec import KrakenV1Codec
from schemas import Disconnected, ErrorEvent, Event, Reconnected, Subscription, Trade
from sdk import registry, testing
from sdk.contract import Codec
from sdk.symbols import AliasedSymbols, SymbolMap

SAMPLE_FRAMES = {
    "kraken": [
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1.5,"qty":2.0,'
        '"ord_type":"limit","trade_id":1,"timestamp":"2024-05-27T12:43:11.798009Z"}]}',
        '{"method":"subscribe","result":{"channel":"trade","symbol":"BTC/USD"},"success":true,"req_id":1}',
        '{"channel":"status","type":"update","data":[{"system":"online","version":"2.0.10"}]}',
    ],
    "kraken-v1": [
        '[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]',
        '{"event":"subscriptionStatus","status":"subscribed","pair":"XBT/USD","subscription":{"name":"trade"}}',
        '{"event":"systemStatus","status":"online","version":"1.9.6"}',
    ],
    "midchains": [
        '{"security":"BTCUSD","src":"CROX","price":"150","qty":"1","time":"1614334523954","type":"trade",'
        '"matchid":"5Z3YF5Z0N8PK","maker_side":"S"}',
        '{"type":"open","time":"1700000000000"}',
    ],
}


@pytest.mark.parametrize("name", sorted(SAMPLE_FRAMES))
def test_a_renamed_adapter_labels_every_event_with_its_new_name(name: str) -> None:
    renamed = replace(registry.get(name), name="relabelled")
    codec = renamed.new_codec()
    codec.subscribe([sdk.trades("BTC/USD")])
    events = [e for frame in SAMPLE_FRAMES[name] for e in testing.decode(codec, frame, 1)]
    events += testing.decode(codec, "not a frame", 2)
    assert any(isinstance(e, Trade) for e in events)
    assert isinstance(events[-1], ErrorEvent)
    assert {e.exchange for e in events} == {"relabelled"}


class Minimal(Codec):
    """A codec implementing only what the base cannot default."""

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        return []

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return []


def test_the_codec_base_defaults_every_optional_method() -> None:
    symbols = AliasedSymbols({})
    codec = Minimal("x", symbols)
    assert (codec.exchange, codec.symbols, codec.reconnect_reason) == ("x", symbols, None)
    assert codec.ping() is None
    assert codec.book_checksum("BTC/USD") is None
    codec.resume(Minimal("x", symbols))
    assert [codec.next_request_id() for _ in range(3)] == [1, 2, 3]
    error = codec.error("unknown message", b"\xff{}", 4)
    assert (error.exchange, error.message, error.raw, error.ts_received) == ("x", "unknown message", "\ufffd{}", 4)


def test_an_adapter_without_a_simulator_says_so() -> None:
    with pytest.raises(LookupError, match="ships no simulator"):
        replace(registry.get("kraken"), simulator=None).make_simulator()


class Rotating(Codec):
    """Kraken v1, asking for a new connection after its first trade (as a venue rotating servers would)."""

    def __init__(self, exchange: str, symbols: SymbolMap) -> None:
        super().__init__(exchange, symbols)
        self._wire = KrakenV1Codec(exchange, symbols)

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Event]:
        events = self._wire.decode_frame(frame, received_ns)
        if any(isinstance(e, Trade) for e in events):
            self.reconnect_reason = "server rotation"
        return events

    def subscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return self._wire.subscribe(subscriptions)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> list[str]:
        return self._wire.unsubscribe(subscriptions)


@pytest.mark.anyio
@pytest.mark.loopback
async def test_a_codec_can_ask_for_a_new_connection() -> None:
    adapter = replace(registry.get("kraken-v1"), codec=Rotating)
    async with (
        adapter.make_simulator(tick_interval=0.005) as simulator,
        sdk.connect(adapter, simulator.url, reconnect=sdk.ReconnectPolicy(initial=0.05, cap=0.2)) as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        with anyio.fail_after(10):
            async for event in feed:
                if isinstance(event, Disconnected):
                    assert "server rotation" in event.reason and not event.final
                if isinstance(event, Reconnected):
                    break


def test_an_error_event_can_be_made_for_any_text_frame() -> None:
    from sdk.contract import frame_size

    lone_surrogate = "\ud800 not valid UTF-8"
    assert frame_size(lone_surrogate) == len(lone_surrogate.encode("utf-8", "surrogatepass"))
    assert frame_size(b"\xff\xfe") == 2 and frame_size("plain") == 5
