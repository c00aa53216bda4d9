"""A slow consumer under ``overflow="drop_oldest"``: market data may go, control events never do."""

from __future__ import annotations

import anyio
import pytest

import sdk
from schemas import (
    Disconnected,
    ErrorEvent,
    EventsDropped,
    Reconnected,
    Status,
    Subscribed,
    SubscriptionError,
    Trade,
)
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

TRADES_PER_CONNECTION = 600
"""Many times the consumer's buffer, sent while the consumer does not read."""

STAMP = "2024-01-01T00:00:00.000000Z"
STATUS = (
    '{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,'
    '"system":"online","version":"2.0.10"}]}'
)


def trade(trade_id: int) -> str:
    return (
        '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":"42000.5",'
        f'"qty":"0.25","ord_type":"market","trade_id":{trade_id},"timestamp":"{STAMP}"}}]}}'
    )


def replies(request: dict[str, object]) -> list[str]:
    """Kraken v2 answers to one trade subscription request: BTC/USD accepted, any other pair refused."""
    params = request["params"]
    assert isinstance(params, dict)
    answers = []
    for symbol in params["symbol"]:
        outcome = (
            f'"result":{{"channel":"trade","symbol":"{symbol}"}},"success":true'
            if symbol == "BTC/USD"
            else f'"error":"Currency pair not supported {symbol}","symbol":"{symbol}","success":false'
        )
        answers.append(
            f'{{"method":"subscribe",{outcome},"time_in":"{STAMP}","time_out":"{STAMP}","req_id":{request["req_id"]}}}'
        )
    return answers


async def test_drop_oldest_drops_only_market_data_and_announces_every_drop() -> None:
    sent_everything = anyio.Event()

    async def flood_then_reconnect(peer: VenuePeer) -> None:
        """Acks, a refusal, a status and an undecodable frame, buried in a flood of trades; then a close."""
        first = (peer.number - 1) * TRADES_PER_CONNECTION
        await peer.send(STATUS)
        for _ in range(2 if peer.number == 1 else 1):  # the refused pair is not subscribed again
            await peer.send(*replies(await peer.receive_json()))
        await peer.send(*(trade(first + n) for n in range(TRADES_PER_CONNECTION // 2)))
        await peer.send('{"channel":"trade","type":"update","data":[')
        await peer.send(*(trade(first + n) for n in range(TRADES_PER_CONNECTION // 2, TRADES_PER_CONNECTION)))
        if peer.number == 1:
            await peer.close(1001, "going away")
        else:
            sent_everything.set()
            await peer.hold()

    async with (
        HostileVenue(flood_then_reconnect) as venue,
        sdk.connect("kraken", venue.url, buffer_size=50, overflow="drop_oldest") as feed,
    ):
        await feed.subscribe(sdk.trades("BTC/USD"))
        await feed.subscribe(sdk.trades("ETH/USD"))
        with anyio.fail_after(10):  # the consumer reads nothing until the venue has sent everything
            await sent_everything.wait()
            while feed.stats.frames < 2 * (TRADES_PER_CONNECTION + 3) + 1:
                await anyio.sleep(0.01)
        last_id = 2 * TRADES_PER_CONNECTION - 1
        events = await collect_until(feed, lambda es: any(e.trade_id == str(last_id) for e in of(Trade, es)))

    assert [type(e) for e in events if type(e) in (Disconnected, Reconnected)] == [Disconnected, Reconnected]
    assert len(of(Subscribed, events)) == 2  # one per connection
    assert [e.symbol for e in of(SubscriptionError, events)] == ["ETH/USD"]
    assert len(of(Status, events)) == 2
    assert len(of(ErrorEvent, events)) == 2
    trades, drops = of(Trade, events), of(EventsDropped, events)
    assert drops, "the consumer fell behind, so market data was dropped"
    assert len(trades) + sum(e.count for e in drops) == 2 * TRADES_PER_CONNECTION
    assert drops[-1].total == feed.stats.dropped == 2 * TRADES_PER_CONNECTION - len(trades)
