"""Property tests of the Kraken v2 codec: generated messages decode to what was generated,
requests carry every subscription, and no input makes ``decode`` raise."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from adapters.kraken.wire import Request
from schemas import BookSnapshot, BookUpdate, ErrorEvent, Subscription, Ticker, Trade
from sdk import registry, subscriptions, testing
from sdk.contract import RAW_EXCERPT
from sdk.wiretext import ns_to_rfc3339

CODEC = registry.get("kraken").new_codec
SYMBOLS = st.sampled_from(["BTC/USD", "ETH/USD", "DOGE/EUR", "SOL/BTC"])


def numbers() -> st.SearchStrategy[str]:
    """JSON number text with 0 to 10 decimals, trailing zeros kept, as Kraken prints them."""
    return st.builds(
        lambda digits, places: f"{Decimal(digits).scaleb(-places):.{places}f}",
        st.integers(0, 10**13),
        st.integers(0, 10),
    )


times = st.integers(0, 4_000_000_000 * 10**9).map(lambda ns: ns - ns % 1000)


def message(channel: str, kind: str, data: Any) -> str:
    return json.dumps({"channel": channel, "type": kind, "data": "DATA"}).replace('"DATA"', data)


@given(
    st.lists(
        st.tuples(
            SYMBOLS,
            st.sampled_from(["buy", "sell"]),
            numbers(),
            numbers(),
            st.sampled_from(["limit", "market"]),
            st.integers(0, 2**62),
            times,
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["snapshot", "update"]),
)
def test_trade_messages(trades: list[tuple[str, str, str, str, str, int, int]], kind: str) -> None:
    data = ",".join(
        f'{{"symbol":"{s}","side":"{side}","price":{p},"qty":{q},"ord_type":"{o}","trade_id":{i},'
        f'"timestamp":"{ns_to_rfc3339(t)}"}}'
        for s, side, p, q, o, i, t in trades
    )
    events = testing.decode(CODEC(), message("trade", kind, f"[{data}]"), 3)
    assert events == [
        Trade(
            exchange="kraken",
            symbol=s,
            price=Decimal(p),
            qty=Decimal(q),
            side=side,
            order_type=o,  # type: ignore[arg-type]
            trade_id=str(i),
            ts_exchange=t,
            ts_received=3,
        )
        for s, side, p, q, o, i, t in trades
    ]
    assert [str(e.qty) for e in events] == [str(Decimal(q)) for *_, q, _, _, _ in trades]  # type: ignore[union-attr]


levels = st.lists(st.tuples(numbers(), numbers()), max_size=8)


@given(SYMBOLS, levels, levels, st.integers(0, 2**32 - 1), st.sampled_from(["snapshot", "update"]), st.booleans())
def test_book_messages(symbol: str, bids: Any, asks: Any, checksum: int, kind: str, stamped: bool) -> None:
    def side(rows: list[tuple[str, str]]) -> str:
        return "[" + ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in rows) + "]"

    stamp = ',"timestamp":"2024-05-19T16:45:24.204654Z"' if stamped else ""
    data = f'[{{"symbol":"{symbol}","bids":{side(bids)},"asks":{side(asks)},"checksum":{checksum}{stamp}}}]'
    codec = CODEC()
    codec.subscribe([subscriptions.book(symbol, 25)])
    [event] = testing.decode(codec, message("book", kind, data), 1)
    assert isinstance(event, BookSnapshot if kind == "snapshot" else BookUpdate)
    assert (event.symbol, event.depth, event.checksum) == (symbol, 25, checksum)
    assert [(lv.price, lv.qty) for lv in event.bids] == [(Decimal(p), Decimal(q)) for p, q in bids]
    assert [(lv.price, lv.qty) for lv in event.asks] == [(Decimal(p), Decimal(q)) for p, q in asks]
    assert event.ts_exchange == (1_716_137_124_204_654_000 if stamped else None)


@given(SYMBOLS, st.lists(numbers(), min_size=11, max_size=11))
def test_ticker_messages(symbol: str, values: list[str]) -> None:
    names = ["bid", "bid_qty", "ask", "ask_qty", "last", "volume", "vwap", "low", "high", "change", "change_pct"]
    body = ",".join(f'"{n}":{v}' for n, v in zip(names, values, strict=True))
    [ticker] = testing.decode(CODEC(), message("ticker", "update", f'[{{"symbol":"{symbol}",{body}}}]'), 1)
    assert isinstance(ticker, Ticker)
    number = dict(zip(names, map(Decimal, values), strict=True))
    assert (ticker.bid, ticker.ask_qty, ticker.volume_24h, ticker.high_24h) == (
        number["bid"],
        number["ask_qty"],
        number["volume"],
        number["high"],
    )
    assert ticker.open_24h == number["last"] - number["change"]


requests = st.lists(
    st.one_of(
        st.builds(subscriptions.trades, SYMBOLS),
        st.builds(subscriptions.book, SYMBOLS, st.sampled_from([10, 25, 1000])),
        st.builds(subscriptions.ticker, SYMBOLS),
        st.builds(subscriptions.quotes, SYMBOLS),
        st.builds(subscriptions.candles, SYMBOLS, st.sampled_from(["1m", "4h", "15d"])),
    ),
    min_size=1,
    max_size=8,
)


@given(requests)
def test_requests_carry_every_subscription(requested: list[Subscription]) -> None:
    from adapters.kraken.channels import subscription_of
    from adapters.kraken.wire import Result

    frames = CODEC().subscribe(requested)
    decoded = [msgspec.json.decode(frame, type=Request) for frame in frames]
    assert all(r.method == "subscribe" and r.params is not None for r in decoded)
    assert len({r.req_id for r in decoded}) == len(decoded)
    instrument = [r for r in decoded if r.params and r.params.channel == "instrument"]
    assert len(instrument) == (1 if any(s.channel == "book" for s in requested) else 0)
    carried = set()
    for r in decoded:
        assert r.params is not None
        if r.params.channel == "instrument":
            continue
        result = Result(
            channel=r.params.channel,
            depth=r.params.depth,
            interval=r.params.interval,
            event_trigger=r.params.event_trigger,
        )
        carried |= {subscription_of(result, symbol) for symbol in r.params.symbol or []}
    assert carried == set(requested)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=16,
)
VALID = message(
    "trade",
    "update",
    '[{"symbol":"BTC/USD","side":"buy","price":1.5,"qty":2.0,"ord_type":"limit",'
    '"trade_id":1,"timestamp":"2024-05-27T12:43:11.798009Z"}]',
)


@given(
    st.one_of(
        st.text(),
        st.binary(),
        json_values.map(json.dumps),
        st.tuples(
            st.sampled_from(["book", "trade", "ticker", "ohlc", "status", "instrument", "x"]),
            st.sampled_from(["snapshot", "update"]),
            json_values,
        ).map(lambda t: json.dumps({"channel": t[0], "type": t[1], "data": t[2]})),
        st.tuples(st.sampled_from(["subscribe", "unsubscribe", "ping", "pong"]), json_values, json_values).map(
            lambda t: json.dumps({"method": t[0], "success": t[1], "result": t[2], "req_id": 1})
        ),
    )
)
def test_garbage_never_raises_and_next_message_decodes(garbage: str | bytes) -> None:
    codec = CODEC()
    events = testing.decode(codec, garbage, 1)
    assert isinstance(events, list)
    [trade] = testing.decode(codec, VALID, 2)
    assert isinstance(trade, Trade) and trade.price == Decimal("1.5")
    text = garbage if isinstance(garbage, str) else garbage.decode("utf-8", "replace")
    assert all(e.raw == text[:RAW_EXCERPT] for e in events if isinstance(e, ErrorEvent))
