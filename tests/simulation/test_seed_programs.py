"""The programs users run today with websocket-client work against the simulator, URL aside."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import websocket
from anyio.from_thread import start_blocking_portal

from adapters.kraken_v1.simulator import KrakenV1Simulator

pytestmark = pytest.mark.loopback

SUBSCRIBE = '{"event":"subscribe", "subscription":{"name":"trade"}, "pair":["XBT/USD","XRP/USD"]}'


@pytest.fixture
def url() -> Iterator[str]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(KrakenV1Simulator(tick_interval=0.005)) as simulator,
    ):
        yield simulator.url + "/"


def test_price_watcher_recv_loop(url: str) -> None:
    ws = websocket.create_connection(url, timeout=10)
    ws.send(SUBSCRIBE)
    messages = [json.loads(ws.recv()) for _ in range(30)]
    ws.close()
    assert messages[0]["event"] == "systemStatus"
    acks = [m for m in messages if isinstance(m, dict) and m.get("event") == "subscriptionStatus"]
    assert {a["pair"] for a in acks} == {"XBT/USD", "XRP/USD"}
    assert all(a["status"] == "subscribed" and a["channelName"] == "trade" for a in acks)
    trades = [m for m in messages if isinstance(m, list)]
    assert trades and all(m[-2] == "trade" and m[-1] in {"XBT/USD", "XRP/USD"} for m in trades)


def test_trading_bot_callbacks_in_a_thread(url: str) -> None:
    received: list[str] = []
    enough = threading.Event()

    def on_open(app: websocket.WebSocketApp) -> None:
        app.send(SUBSCRIBE)

    def on_message(app: websocket.WebSocketApp, message: str) -> None:
        received.append(message)
        if sum(m.startswith("[") for m in received) >= 5:
            enough.set()

    app = websocket.WebSocketApp(url, on_open=on_open, on_message=on_message)
    thread = threading.Thread(target=app.run_forever, daemon=True)
    thread.start()
    try:
        assert enough.wait(10), received
    finally:
        app.close()
        thread.join(15)  # close() waits up to 3 s for the close reply that the reader thread may take
    assert not thread.is_alive()
    assert json.loads(received[0])["event"] == "systemStatus"
