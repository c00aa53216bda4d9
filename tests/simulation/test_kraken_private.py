"""The Kraken simulator's private side over loopback: REST token issuance, the private socket's
methods and channels, and the trading fault switches. Every private frame must decode with the
client's codec without an ``ErrorEvent`` unless the test asks for a refusal."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import anyio
import httpx
import msgspec
import pytest

from adapters.kraken.auth import parse_token_reply, token_request
from adapters.kraken.private import KrakenPrivateCodec
from adapters.kraken.simulator import DEFAULT_TEST_KEY, DEFAULT_TEST_SECRET, KrakenSimulator
from schemas.events import ErrorEvent
from schemas.trading import Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.credentials import Credentials, Secret
from sdk.trading_contract import NonceSource, TokenRequestFailed
from sdk.transport import ConnectionClosed, WebSocket, connect

pytestmark = [pytest.mark.loopback, pytest.mark.anyio]

CREDENTIALS = Credentials(key=DEFAULT_TEST_KEY, secret=DEFAULT_TEST_SECRET)
NONCES = NonceSource()


async def fetch_token(simulator: KrakenSimulator, credentials: Credentials = CREDENTIALS) -> Secret:
    request = token_request(credentials, NONCES.next_nonce(time.time_ns()), simulator.rest_url)
    async with httpx.AsyncClient() as client:
        response = await client.post(request.url, headers=dict(request.headers), content=request.body)
    return parse_token_reply(response.content).token


class Client:
    """A private socket with the client's codec: frames in, trading events out."""

    def __init__(self, websocket: WebSocket, token: Secret) -> None:
        self.websocket, self.token, self.codec = websocket, token, KrakenPrivateCodec()
        self.events: list[TradingEvent] = []
        self.replies: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def until(self, done: Any, timeout: float = 5) -> None:
        with anyio.fail_after(timeout):
            while not done():
                for message in await self.websocket.receive_batch():
                    decoded = msgspec.json.decode(message)
                    if decoded.get("channel") in ("heartbeat", "status"):
                        continue
                    if "method" in decoded:
                        self.replies.append(decoded)
                    self.events += self.codec.decode_frame(message, time.time_ns())

    def errors(self) -> list[ErrorEvent]:
        return [e for e in self.events if isinstance(e, ErrorEvent)]

    def updates(self, state: str) -> list[OrderUpdate]:
        return [e for e in self.events if isinstance(e, OrderUpdate) and e.state == state]


async def subscribed(simulator: KrakenSimulator) -> Client:
    client = Client(await connect(simulator.auth_url), await fetch_token(simulator))
    await client.send(client.codec.subscribe_executions(client.token).text)
    await client.send(client.codec.subscribe_balances(client.token).text)
    await client.until(lambda: sum(r.get("method") == "subscribe" for r in client.replies) == 2)
    return client


def limit(simulator: KrakenSimulator, side: str, ticks_away: int, qty: str = "0.01", **extra: Any) -> OrderRequest:
    state = simulator.market.state("BTC/USD")
    best = state.bids.best() if side == "buy" else state.asks.best()
    assert best is not None
    price = best - ticks_away * state.instrument.tick if side == "buy" else best + ticks_away * state.instrument.tick
    return OrderRequest(symbol="BTC/USD", side=side, order_type="limit", qty=Decimal(qty), price=price, **extra)  # type: ignore[arg-type]


async def test_token_endpoint_checks_key_signature_and_nonce() -> None:
    async with KrakenSimulator() as simulator:
        assert (await fetch_token(simulator)).reveal()
        wrong = Credentials(key=DEFAULT_TEST_KEY, secret="c2VjcmV0IG9mIHNvbWVvbmUgZWxzZQ==")
        with pytest.raises(TokenRequestFailed) as signature:
            await fetch_token(simulator, wrong)
        assert signature.value.errors == ("EAPI:Invalid signature",)
        with pytest.raises(TokenRequestFailed) as key:
            await fetch_token(simulator, Credentials(key="nobody", secret=DEFAULT_TEST_SECRET))
        assert key.value.errors == ("EAPI:Invalid key",)
        stale = token_request(CREDENTIALS, 1, simulator.rest_url)
        async with httpx.AsyncClient() as client:
            response = await client.post(stale.url, headers=dict(stale.headers), content=stale.body)
        assert response.json() == {"error": ["EAPI:Invalid nonce"]}
        simulator.refuse_tokens = "EGeneral:Temporary lockout"
        with pytest.raises(TokenRequestFailed):
            await fetch_token(simulator)


async def test_place_fill_amend_cancel_and_snapshots_decode_cleanly() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator:
        client = await subscribed(simulator)
        await client.send(
            client.codec.add_order(limit(simulator, "buy", -5, client_order_id="taker"), client.token).text
        )
        await client.send(
            client.codec.add_order(limit(simulator, "buy", 300, client_order_id="rests"), client.token).text
        )
        await client.until(lambda: len(client.updates("new")) == 2 and client.updates("filled"))
        resting = client.updates("new")[1].venue_order_id
        assert resting is not None
        simulator.force_fill(resting, Decimal("0.004"), client.updates("new")[1].price or Decimal(0))
        await client.until(lambda: client.updates("partially_filled"))
        amend = client.codec.amend_order(client.token, venue_order_id=resting, qty=Decimal("0.02"))
        await client.send(amend.text)
        await client.until(lambda: any(r.get("method") == "amend_order" for r in client.replies))
        await client.send(client.codec.cancel_order(client.token, client_order_ids=["rests"]).text)
        await client.until(lambda: client.updates("canceled"))
        assert client.updates("canceled")[0].filled_qty == Decimal("0.004")
        assert any(isinstance(e, Fill) and e.liquidity == "maker" for e in client.events)
        assert client.errors() == []
        # a second connection's snapshot: the last trades, no open order
        again = Client(await connect(simulator.auth_url), await fetch_token(simulator))
        await again.send(again.codec.subscribe_executions(again.token).text)
        await again.until(lambda: any(isinstance(e, Fill) for e in again.events))
        assert again.errors() == []


async def test_cancel_all_validate_only_batch_and_dead_mans_switch() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator:
        client = await subscribed(simulator)
        validate = limit(simulator, "buy", 300, client_order_id="check", validate_only=True)
        await client.send(client.codec.add_order(validate, client.token).text)
        batch = [limit(simulator, "buy", 300 + i, client_order_id=f"b{i}") for i in range(3)]
        await client.send(client.codec.batch_add(batch, client.token).text)
        await client.until(lambda: len(client.updates("new")) == 3)
        assert simulator.engine.open_orders(DEFAULT_TEST_KEY)[0].spec.client_id == "b0"
        reply = next(r for r in client.replies if r["method"] == "add_order")
        assert reply["result"]["order_id"] == ""
        await client.send(client.codec.batch_cancel(client.token, client_order_ids=["b0", "b1"]).text)
        await client.until(lambda: any(r["method"] == "batch_cancel" for r in client.replies))
        assert next(r for r in client.replies if r["method"] == "batch_cancel")["orders_cancelled"] == 2
        await client.send(client.codec.cancel_all(client.token).text)
        await client.until(lambda: any(r["method"] == "cancel_all" for r in client.replies))
        assert next(r for r in client.replies if r["method"] == "cancel_all")["result"] == {"count": 1}
        await client.send(client.codec.add_order(limit(simulator, "sell", 300), client.token).text)
        await client.send(client.codec.cancel_all_orders_after(1, client.token).text)
        await client.until(lambda: len(client.updates("canceled")) == 4)
        armed = next(r for r in client.replies if r["method"] == "cancel_all_orders_after")
        assert set(armed["result"]) == {"currentTime", "triggerTime"}
        assert client.errors() == []


async def test_fault_switches() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator:
        client = await subscribed(simulator)
        simulator.reject_orders(1)
        await client.send(client.codec.add_order(limit(simulator, "buy", 300, client_order_id="r"), client.token).text)
        await client.until(lambda: client.updates("rejected"))
        assert client.updates("rejected")[0].reason == "EOrder:Rate limit exceeded"
        simulator.invalidate_tokens()
        await client.send(client.codec.cancel_all(client.token).text)
        await client.until(client.errors)
        assert client.replies[-1]["error"] == "EAPI:Invalid token"
        client = await subscribed(simulator)  # a fresh token works at once
        simulator.hold_fills()
        await client.send(
            client.codec.add_order(limit(simulator, "buy", -5, client_order_id="late"), client.token).text
        )
        await client.until(lambda: client.updates("new"))
        await anyio.sleep(0.1)
        assert not any(isinstance(e, Fill) for e in client.events)
        assert simulator.release_fills() > 0
        await client.until(lambda: client.updates("filled"))
        simulator.drop_after_next_order()
        await client.send(
            client.codec.add_order(limit(simulator, "buy", 300, client_order_id="once"), client.token).text
        )
        with pytest.raises(ConnectionClosed):
            await client.until(lambda: False)
        assert simulator.orders_received("once") == 1
        assert [o.spec.client_id for o in simulator.engine.open_orders(DEFAULT_TEST_KEY)] == ["once"]


async def test_orders_off_the_published_grid_or_below_its_minimums_are_refused() -> None:
    async with KrakenSimulator(tick_interval=0.01) as simulator:
        client = await subscribed(simulator)
        on_grid = limit(simulator, "buy", 300)
        refused = {
            "price": msgspec.structs.replace(on_grid, price=(on_grid.price or Decimal(0)) + Decimal("0.05")),
            "volume": msgspec.structs.replace(on_grid, qty=Decimal("0.00015")),
            "volume minimum": msgspec.structs.replace(on_grid, qty=Decimal("0.00005")),
            "cost": msgspec.structs.replace(on_grid, qty=Decimal("0.0001"), price=Decimal("1000.0")),
        }
        for number, order in enumerate(refused.values()):
            placing = msgspec.structs.replace(order, client_order_id=f"off{number}")
            await client.send(client.codec.add_order(placing, client.token).text)
        await client.until(lambda: len(client.updates("rejected")) == len(refused))
        assert [u.reason for u in client.updates("rejected")] == [
            "EGeneral:Invalid arguments:price",
            "EGeneral:Invalid arguments:volume",
            "EGeneral:Invalid arguments:volume minimum not met",
            "EOrder:Cost minimum not met",
        ]
        assert simulator.engine.open_orders(DEFAULT_TEST_KEY) == []
