"""Property tests of the Kraken v1 codec: generated frames decode to what was generated, requests
encode to what was asked, and no input whatsoever makes ``decode`` raise."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from adapters.kraken_v1.wire import ClientMessage, Subscribe, Unsubscribe
from schemas import BookSnapshot, BookUpdate, Candle, ErrorEvent, Quote, Subscription, Trade
from sdk import registry, subscriptions, testing
from sdk.contract import RAW_EXCERPT

ASSETS = {"XBT": "BTC", "XDG": "DOGE", "ETH": "ETH", "USD": "USD", "EUR": "EUR", "ADA": "ADA"}
CODEC = registry.get("kraken-v1").new_codec


def decimal_texts() -> st.SearchStrategy[str]:
    """Wire decimals with 0 to 10 places, trailing zeros kept."""
    return st.builds(
        lambda digits, places: f"{Decimal(digits).scaleb(-places):.{places}f}",
        st.integers(0, 10**13),
        st.integers(0, 10),
    )


times = st.tuples(st.integers(0, 2**33), st.integers(0, 999_999))
pairs = st.tuples(st.sampled_from(sorted(ASSETS)), st.sampled_from(sorted(ASSETS)))


def time_text(parts: tuple[int, int]) -> str:
    return f"{parts[0]}.{parts[1]:06d}"


def time_ns(parts: tuple[int, int]) -> int:
    return parts[0] * 1_000_000_000 + parts[1] * 1_000


def wire_pair(pair: tuple[str, str]) -> str:
    return f"{pair[0]}/{pair[1]}"


def symbol(pair: tuple[str, str]) -> str:
    return f"{ASSETS[pair[0]]}/{ASSETS[pair[1]]}"


fills = st.tuples(decimal_texts(), decimal_texts(), times, st.sampled_from("bs"), st.sampled_from("ml"))


@given(st.lists(fills, min_size=1, max_size=5), pairs, st.integers(0, 2**31))
def test_trade_frames(generated: list[tuple[str, str, tuple[int, int], str, str]], pair: Any, channel: int) -> None:
    rows = [[p, q, time_text(t), side, kind, ""] for p, q, t, side, kind in generated]
    events = testing.decode(CODEC(), json.dumps([channel, rows, "trade", wire_pair(pair)]), 5)
    assert events == [
        Trade(
            exchange="kraken-v1",
            symbol=symbol(pair),
            price=Decimal(p),
            qty=Decimal(q),
            side="buy" if side == "b" else "sell",
            order_type="market" if kind == "m" else "limit",
            ts_exchange=time_ns(t),
            ts_received=5,
        )
        for p, q, t, side, kind in generated
    ]
    assert all(str(e.price) == Decimal(p).__str__() for e, (p, *_) in zip(events, generated, strict=True))  # type: ignore[union-attr]


@given(decimal_texts(), decimal_texts(), times, decimal_texts(), decimal_texts(), pairs)
def test_spread_frames(bid: str, ask: str, when: Any, bid_qty: str, ask_qty: str, pair: Any) -> None:
    frame = json.dumps([1, [bid, ask, time_text(when), bid_qty, ask_qty], "spread", wire_pair(pair)])
    [quote] = testing.decode(CODEC(), frame, 1)
    assert quote == Quote(
        exchange="kraken-v1",
        symbol=symbol(pair),
        bid=Decimal(bid),
        bid_qty=Decimal(bid_qty),
        ask=Decimal(ask),
        ask_qty=Decimal(ask_qty),
        ts_exchange=time_ns(when),
        ts_received=1,
    )


@given(
    st.sampled_from([1, 5, 15, 30, 60, 240, 1440, 10080, 21600]),
    times,
    st.integers(0, 2**33),
    st.lists(decimal_texts(), min_size=6, max_size=6),
    st.integers(0, 10**6),
    pairs,
)
def test_ohlc_frames(minutes: int, when: Any, end: int, values: list[str], count: int, pair: Any) -> None:
    open_, high, low, close, vwap, volume = values
    payload = [time_text(when), f"{end}.000000", open_, high, low, close, vwap, volume, count]
    [candle] = testing.decode(CODEC(), json.dumps([9, payload, f"ohlc-{minutes}", wire_pair(pair)]), 2)
    assert isinstance(candle, Candle)
    assert candle.interval == subscriptions.candles("BTC/USD", f"{minutes}m").interval
    assert (candle.end, candle.start) == (end * 10**9, end * 10**9 - minutes * 60 * 10**9)
    assert [candle.open, candle.high, candle.low, candle.close, candle.vwap, candle.volume] == [
        Decimal(v) for v in values
    ]
    assert candle.trades == count and candle.ts_exchange == time_ns(when)


levels = st.lists(st.tuples(decimal_texts(), decimal_texts(), times, st.booleans()), max_size=6)


def rows(generated: list[tuple[str, str, tuple[int, int], bool]]) -> list[list[str]]:
    return [[p, q, time_text(t), *(["r"] if r else [])] for p, q, t, r in generated]


@given(levels, levels, st.sampled_from([10, 25, 100, 500, 1000]), st.integers(0, 2**32 - 1), st.booleans(), pairs)
def test_book_update_frames(asks: Any, bids: Any, depth: int, crc: int, split: bool, pair: Any) -> None:
    if not asks and not bids:
        bids = [("1.0", "2.0", (1, 0), False)]
    if split and asks and bids:
        payloads: list[dict[str, Any]] = [{"a": rows(asks)}, {"b": rows(bids), "c": str(crc)}]
    else:
        payload: dict[str, Any] = {"c": str(crc)}
        if asks:
            payload["a"] = rows(asks)
        if bids:
            payload["b"] = rows(bids)
        payloads = [payload]
    [update] = testing.decode(CODEC(), json.dumps([7, *payloads, f"book-{depth}", wire_pair(pair)]), 3)
    assert isinstance(update, BookUpdate)
    assert (update.symbol, update.depth, update.checksum) == (symbol(pair), depth, crc)
    assert [(lv.price, lv.qty, lv.republished) for lv in update.asks] == [
        (Decimal(p), Decimal(q), r) for p, q, _, r in asks
    ]
    assert [(lv.price, lv.qty, lv.republished) for lv in update.bids] == [
        (Decimal(p), Decimal(q), r) for p, q, _, r in bids
    ]
    assert update.ts_exchange == max(time_ns(t) for *_, t, _ in (*asks, *bids))


@given(levels, levels, pairs)
def test_book_snapshot_frames(asks: Any, bids: Any, pair: Any) -> None:
    frame = json.dumps([7, {"as": rows(asks), "bs": rows(bids)}, "book-10", wire_pair(pair)])
    [snapshot] = testing.decode(CODEC(), frame, 3)
    assert isinstance(snapshot, BookSnapshot)
    assert [lv.price for lv in snapshot.asks] == [Decimal(p) for p, *_ in asks]
    assert [lv.qty for lv in snapshot.bids] == [Decimal(q) for _, q, *_ in bids]


subscription_requests = st.lists(
    st.one_of(
        st.builds(subscriptions.trades, st.sampled_from(["BTC/USD", "DOGE/EUR", "ETH/BTC"])),
        st.builds(subscriptions.book, st.sampled_from(["BTC/USD", "ADA/EUR"]), st.sampled_from([10, 25, 1000])),
        st.builds(subscriptions.candles, st.just("BTC/USD"), st.sampled_from(["1m", "1h", "15d", "1w"])),
        st.builds(subscriptions.quotes, st.sampled_from(["BTC/USD", "ETH/USD"])),
    ),
    min_size=1,
    max_size=8,
)


@given(subscription_requests, st.booleans())
def test_requests_carry_every_subscription(requested: list[Subscription], unsubscribe: bool) -> None:
    codec = CODEC()
    frames = codec.unsubscribe(requested) if unsubscribe else codec.subscribe(requested)
    decoder = msgspec.json.Decoder(ClientMessage)
    messages = [decoder.decode(frame) for frame in frames]
    assert all(isinstance(m, Unsubscribe if unsubscribe else Subscribe) for m in messages)
    reqids = [m.reqid for m in messages]  # type: ignore[union-attr]
    assert len(set(reqids)) == len(reqids)
    symbols = registry.get("kraken-v1").symbols
    from adapters.kraken_v1.channels import subscription_from_wire

    carried = {
        subscription_from_wire(m.subscription, symbols.from_wire(pair))  # type: ignore[union-attr]
        for m in messages
        for pair in m.pair or []  # type: ignore[union-attr]
    }
    assert carried == set(requested)
    assert not any("BTC" in (m.pair or []) for m in messages)  # type: ignore[union-attr]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=4), children, max_size=5),
    max_leaves=20,
)
VALID = '[321,[["57126.70000","0.02063928","1616333924.737428","b","m",""]],"trade","XBT/USD"]'


@given(
    st.one_of(
        st.text(),
        st.binary(),
        json_values.map(json.dumps),
        json_values.map(lambda v: json.dumps([1, v, "book-10", "XBT/USD"])),
    )
)
def test_garbage_never_raises_and_next_frame_decodes(garbage: str | bytes) -> None:
    codec = CODEC()
    events = testing.decode(codec, garbage, 1)
    assert isinstance(events, list)
    for event in events:
        if isinstance(event, ErrorEvent):
            text = garbage if isinstance(garbage, str) else garbage.decode("utf-8", "replace")
            assert event.raw == text[:RAW_EXCERPT]
    [trade] = testing.decode(codec, VALID, 2)
    assert isinstance(trade, Trade) and trade.price == Decimal("57126.70000")


@given(st.integers(0, 2), st.sampled_from([None, 1.5, 7, "NaN", "Infinity", "-inf", "", "1e400x", [], {}]))
def test_non_numbers_become_errors(position: int, replacement: object) -> None:
    """A price, quantity or time that is not a finite number is an error event."""
    fill: list[object] = ["57126.70000", "0.02063928", "1616333924.737428", "b", "m", ""]
    fill[position] = replacement
    [error] = testing.decode(CODEC(), json.dumps([1, [fill], "trade", "XBT/USD"]), 1)
    assert isinstance(error, ErrorEvent)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=0, max_value=10**9))
def test_json_numbers_where_v1_sends_text_are_errors(value: Decimal) -> None:
    """v1 sends every number as a string; a bare JSON number is refused, never read via float."""
    frame = f'[1,[[{value:f},"0.5","1616333924.737428","b","m",""]],"trade","XBT/USD"]'
    [error] = testing.decode(CODEC(), frame, 1)
    assert isinstance(error, ErrorEvent)
    book = f'[1,{{"b":[[{value:f},"0.5","1616333924.737428"]],"c":"1"}},"book-10","XBT/USD"]'
    [error] = testing.decode(CODEC(), book, 1)
    assert isinstance(error, ErrorEvent)


def test_nan_price_is_an_error() -> None:
    [error] = testing.decode(CODEC(), '[1,[["NaN","0.1","1616333924.737428","b","m",""]],"trade","XBT/USD"]', 1)
    assert isinstance(error, ErrorEvent)
