"""Mutated real frames: no exception escapes any codec, and the next frame decodes normally."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sdk
from schemas import ErrorEvent, Event
from sdk import registry, testing
from sdk.contract import RAW_EXCERPT
from tests.conftest import FIXTURES, fixture_lines

LINES = {
    "kraken-v1": [
        line
        for path in sorted((FIXTURES / "kraken").glob("v1_*.jsonl"))
        for line in fixture_lines(f"kraken/{path.name}")
    ][:400],
    "kraken": [
        line
        for path in sorted((FIXTURES / "kraken").glob("v2_*.jsonl"))
        for line in fixture_lines(f"kraken/{path.name}")
    ][:400],
    "midchains": [
        '{"security":"LTCUSD","books":[{"side":"B","act":"U","src":"CROX","price":"184.3","qty":"2.85",'
        '"id":120946647655360,"time":"1614331055706","mpid":"ANON","key":"NA"}],"type":"book"}',
        '{"security":"BTCUSD","src":"CROX","price":"150","qty":"1","time":"1614334523954","type":"trade",'
        '"matchid":"5Z3YF5Z0N8PK","maker_side":"S"}',
    ],
}


FOLLOW = {"midchains": '{"security":"BTCUSD","price":"1","qty":"1","type":"trade","matchid":"NEVER-MUTATED"}'}
"""A frame no mutation can have consumed (a repeated matchid would be de-duplicated)."""


def mutations(line: str) -> st.SearchStrategy[str]:
    """Cut it short, flip, insert or delete characters, or splice in JSON tokens."""
    position = st.integers(0, max(len(line) - 1, 0))
    token = st.sampled_from(['"', ",", "]", "}", "[", "{", "null", "-1", "1e999", '"NaN"', "9" * 30, "\\u0000"])
    return st.one_of(
        position.map(lambda i: line[:i]),
        st.tuples(position, token).map(lambda t: line[: t[0]] + t[1] + line[t[0] :]),
        st.tuples(position, st.integers(1, 5)).map(lambda t: line[: t[0]] + line[t[0] + t[1] :]),
        st.tuples(position, st.characters()).map(lambda t: line[: t[0]] + t[1] + line[t[0] + 1 :]),
    )


@pytest.mark.parametrize("exchange", sorted(LINES))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_frames(exchange: str, data: st.DataObject) -> None:
    lines = LINES[exchange]
    line = data.draw(st.sampled_from(lines))
    mutated = data.draw(mutations(line))
    codec = registry.get(exchange).new_codec()
    codec.subscribe([sdk.book("LTC/USD"), sdk.trades("BTC/USD")] if exchange == "midchains" else [])
    events: list[Event] = testing.decode(codec, mutated, 1)
    assert isinstance(events, list)
    for event in events:
        if isinstance(event, ErrorEvent):
            assert (event.raw, event.raw_size) == (mutated[:RAW_EXCERPT], len(mutated.encode("utf-8", "surrogatepass")))
    follow = testing.decode(codec, FOLLOW.get(exchange, lines[0]), 2)
    assert follow
    assert not [e for e in follow if isinstance(e, ErrorEvent)]
