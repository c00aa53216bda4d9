"""Simulator sessions without sockets: requests and market steps in, frames out."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from adapters.midchains.dialect import MidchainsDialect
from adapters.midchains.simulator import MidchainsSession, MidchainsSimulator
from sdk import registry
from sdk.simulation.session import CHECKSUM_FLIP, Session

NOW = 1_700_000_000_000_000_000
STEP = 1_000_000
SUBSCRIBE_TRADES = {
    "kraken": '{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"]},"req_id":7}',
    "kraken-v1": '{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"trade"},"reqid":7}',
    "midchains": '{"type":"subscribe","request":[{"msg":"trade","security":"BTCUSD","dest":"CROX"}]}',
}
SUBSCRIBE_BOOK = {
    "kraken": '{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10}}',
    "kraken-v1": '{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"book","depth":10}}',
}


def steps(session: Session, count: int) -> list[str]:
    """The frames ``count`` market steps make on ``session``."""
    frames = []
    for step in range(1, count + 1):
        frames += session.on_market(session.market.step(NOW + step * STEP))
    return frames


@pytest.mark.parametrize("exchange", list(SUBSCRIBE_TRADES))
def test_a_refusal_is_worded_by_the_venue_and_subscribes_nothing(exchange: str) -> None:
    session = registry.get(exchange).make_simulator().new_session()
    refusal = session.refuse(SUBSCRIBE_TRADES[exchange].encode(), "Exceeded msg rate", NOW)
    assert refusal and all("Exceeded msg rate" in frame for frame in refusal)
    assert steps(session, 200) == []
    assert session.heartbeat(NOW) is None  # nothing subscribed, nothing to keep alive


@pytest.mark.parametrize("exchange", list(SUBSCRIBE_TRADES))
def test_only_subscriptions_can_be_refused(exchange: str) -> None:
    session = registry.get(exchange).make_simulator().new_session()
    assert session.refuse(b"not json", "Exceeded msg rate", NOW) is None
    unsubscribe = SUBSCRIBE_TRADES[exchange].replace("subscribe", "unsubscribe")
    assert session.refuse(unsubscribe.encode(), "Exceeded msg rate", NOW) is None


@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1"])
def test_the_acknowledgement_is_marked_and_data_follows(exchange: str) -> None:
    session = registry.get(exchange).make_simulator().new_session()
    reply = session.on_message(SUBSCRIBE_TRADES[exchange].encode(), NOW)
    [ack] = [outgoing.text for outgoing in reply.outgoing if outgoing.ack]
    assert "subscribed" in ack or '"success":true' in ack
    assert any("BTC/USD" in frame or "XBT/USD" in frame for frame in steps(session, 200))


def test_midchains_positive_acks_are_marked_as_acknowledgements() -> None:
    simulator = MidchainsSimulator()
    quiet = MidchainsSession(simulator.market)
    assert not any(outgoing.ack for outgoing in quiet.on_message(SUBSCRIBE_TRADES["midchains"].encode(), NOW).outgoing)
    acking = MidchainsSession(simulator.market, MidchainsDialect(positive_acks=True))
    reply = acking.on_message(SUBSCRIBE_TRADES["midchains"].encode(), NOW)
    assert [msgspec.json.decode(o.text)["result"] for o in reply.outgoing if o.ack] == ["OK"]


def _checksum(exchange: str, frame: str) -> int:
    message: Any = msgspec.json.decode(frame)
    return int(message["data"][0]["checksum"] if exchange == "kraken" else message[-3]["c"])


@pytest.mark.parametrize("exchange", list(SUBSCRIBE_BOOK))
def test_a_session_corrupts_only_its_own_book_checksums(exchange: str) -> None:
    session = registry.get(exchange).make_simulator().new_session()
    [ack] = [o.text for o in session.on_message(SUBSCRIBE_BOOK[exchange].encode(), NOW).outgoing if o.ack]
    update = next(frame for frame in steps(session, 50) if "update" in frame or '"c":"' in frame)
    corrupted = session.corrupt_checksum(update, "BTC/USD")
    assert corrupted is not None
    checksum, wrong = _checksum(exchange, update), _checksum(exchange, corrupted)
    assert wrong == checksum ^ CHECKSUM_FLIP and corrupted.replace(str(wrong), str(checksum)) == update
    assert session.corrupt_checksum(update, "ETH/USD") is None
    assert session.corrupt_checksum(ack, "BTC/USD") is None


def test_midchains_has_no_checksum_to_corrupt() -> None:
    session = MidchainsSimulator().new_session()
    frames = session.on_message(
        b'{"type":"subscribe","request":[{"msg":"book","security":"BTCUSD","dest":"CROX"}]}', NOW
    )
    assert all(session.corrupt_checksum(frame, "BTC/USD") is None for frame in frames.frames + steps(session, 20))
