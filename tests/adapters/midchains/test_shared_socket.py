"""Market data and trading share Midchains' one socket, so each codec reads every frame: each must
pass over the other side's messages in silence (the venue documents unknown types as ignored)."""

from __future__ import annotations

import pytest

from adapters.midchains.private import MidchainsPrivateCodec
from adapters.midchains.symbols import SYMBOLS
from schemas.subscription import Subscription
from sdk import registry
from tests.conftest import fixture_lines

TRADING_DOCS = fixture_lines("midchains/trading_docs.jsonl")
"""The documented trading requests and replies, every one a type the market side does not read."""

MARKET_FRAMES = (
    '{"security":"BTCUSD","books":[{"side":"B","act":"A","src":"CROX","price":"150","qty":"2",'
    '"id":1,"time":"1614331055706"}],"snapshot":true,"type":"book"}',
    '{"security":"BTCUSD","src":"CROX","price":"150","qty":"1","time":"1614334523954","type":"trade",'
    '"matchid":"5Z3YF5Z0N8PK","maker_side":"S"}',
    '{"type":"subscribe","result":"OK","request":[{"msg":"book","security":"BTCUSD","dest":"CROX"}]}',
    '{"type":"unsubscribe","result":"OK","request":[{"msg":"book","security":"BTCUSD","dest":"CROX"}]}',
    '{"type":"heartbeat","time":"1614334523954"}',
    '{"type":"open","time":"1614334523954"}',
    '{"type":"error","result":"invalid message"}',
)


@pytest.mark.parametrize("line", range(len(TRADING_DOCS)))
def test_the_market_codec_passes_over_every_trading_message(line: int) -> None:
    codec = registry.get("midchains").new_codec()
    codec.subscribe([Subscription(channel="book", symbol="BTC/USD", depth=10)])
    assert codec.decode_frame(TRADING_DOCS[line], 1) == []


def test_the_market_codec_still_refuses_a_broken_message_of_its_own() -> None:
    codec = registry.get("midchains").new_codec()
    with pytest.raises(Exception, match="security"):
        codec.decode_frame('{"type":"trade","price":"1","qty":"1","matchid":"X"}', 1)


@pytest.mark.parametrize("frame", MARKET_FRAMES)
def test_the_private_codec_passes_over_every_market_message(frame: str) -> None:
    assert MidchainsPrivateCodec("midchains", SYMBOLS).decode_frame(frame, 1) == []

