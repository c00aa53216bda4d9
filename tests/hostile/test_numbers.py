"""Venues that send numbers no market has: each bad frame costs one ErrorEvent and nothing more.

Not-a-number, infinities, negative quantities, precisions below zero and exponents in the
millions are refused where the frame is decoded, so books stay maintained and verified, later
trades still arrive, and a short frame cannot make the feed write a hundred million digits.
"""

from __future__ import annotations

import gc
import json
import logging
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

import anyio
import pytest

import sdk
from schemas import ErrorEvent, Event, Subscribed, Trade
from sdk.books import BookStats
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of
from tests.conftest import fixture_lines

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

MiB = 1 << 20

V2_INSTRUMENT = (
    '{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","base":"BTC",'
    '"quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":%s,'
    '"price_increment":0.1,"qty_min":0.0001,"cost_min":0.5,"marginable":true}]}}'
)
V2_TRADE = (
    '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":%s,"qty":%s,'
    '"ord_type":"limit","trade_id":%d,"timestamp":"2024-05-27T12:43:11.798009Z"}]}'
)
V1_TRADE = '[337,[["%s","%s","1693415330.000000","b","l",""]],"trade","XBT/USD"]'
LAST_V2 = "68500.0"
LAST_V1 = "27120.0"
"""The price of each venue's last trade: once it arrives, the feed has gone past every attack."""
V1_ASK = '"27120.00000"'
"""The first ask of the captured v1 snapshot: the attacks put their number in its place."""


def v2_book() -> tuple[str, str]:
    """A captured v2 BTC/USD snapshot and the update after it (price precision 1, qty precision 8)."""
    snapshot, update = fixture_lines("kraken/v2_book.jsonl")[:2]
    return snapshot, update


def v1_book() -> tuple[str, str]:
    """A captured v1 XBT/USD book-10 snapshot and the update after it."""
    lines = [line for line in fixture_lines("kraken/v1_book.jsonl") if line.startswith("[336,")]
    return lines[0], lines[1]


def kraken_v2(frames: Sequence[str], *, after: anyio.Event | None = None) -> Callable[[VenuePeer], Awaitable[None]]:
    """A v2 venue that acknowledges the book, trade and instrument requests, then sends ``frames``
    (once ``after`` is set, when given)."""

    async def script(peer: VenuePeer) -> None:
        for _ in range(3):  # the instrument request the codec makes for checksums, then book and trade
            request = await peer.receive_json()
            params = request["params"]
            symbols = params.get("symbol") or [None]
            for symbol in symbols:
                result = {"channel": params["channel"], **({"symbol": symbol} if symbol else {})}
                if "depth" in params:
                    result["depth"] = params["depth"]
                reply = {"method": "subscribe", "result": result, "success": True, "req_id": request["req_id"]}
                await peer.send(json.dumps(reply))
        if after is not None:
            await after.wait()
        await peer.send(*frames)
        await peer.hold()

    return script


def kraken_v1(frames: Sequence[str], *, after: anyio.Event | None = None) -> Callable[[VenuePeer], Awaitable[None]]:
    """A v1 venue that acknowledges book-10 and trade for XBT/USD, then sends ``frames``."""

    async def script(peer: VenuePeer) -> None:
        for _ in range(2):
            request = await peer.receive_json()
            options = request["subscription"]
            name = "book-10" if options["name"] == "book" else options["name"]
            channel_id = 336 if options["name"] == "book" else 337
            status = {
                "channelID": channel_id,
                "channelName": name,
                "event": "subscriptionStatus",
                "pair": "XBT/USD",
                "reqid": request["reqid"],
                "status": "subscribed",
                "subscription": options,
            }
            await peer.send(json.dumps(status))
        if after is not None:
            await after.wait()
        await peer.send(*frames)
        await peer.hold()

    return script


async def feed_until_trade(
    exchange: str, script: Callable[[VenuePeer], Awaitable[None]], price: str
) -> tuple[list[Event], BookStats, bool]:
    """Every event up to the trade at ``price``, the book counters then, and whether the book is valid."""
    async with HostileVenue(script) as venue, sdk.connect(exchange, venue.url) as feed:
        await feed.subscribe(sdk.book("BTC/USD", depth=10), sdk.trades("BTC/USD"))
        last = Decimal(price)
        events = await collect_until(feed, lambda es: any(t.price == last for t in of(Trade, es)), timeout=5)
        return events, feed.book_stats, feed.orderbook("BTC/USD").valid


def assert_one_error_and_the_feed_goes_on(events: list[Event], stats: BookStats, valid: bool) -> None:
    errors = of(ErrorEvent, events)
    assert len(errors) == 1, errors
    assert errors[0].message.startswith("undecodable frame"), errors[0].message
    assert valid and stats.failures == 0 and stats.checks >= 1  # the update after the good snapshot was verified


@pytest.mark.parametrize("bad", ['"NaN"', '"Infinity"', '"-Infinity"', "1e100000000"])
async def test_a_v2_snapshot_with_an_impossible_price_costs_one_error_and_the_book_stays_verified(bad: str) -> None:
    snapshot, update = v2_book()
    poisoned = snapshot.replace('"price":29430.2', f'"price":{bad}', 1)
    assert poisoned != snapshot
    frames = [V2_INSTRUMENT % 1, poisoned, snapshot, update, V2_TRADE % (LAST_V2, "0.5", 7)]
    assert_one_error_and_the_feed_goes_on(*await feed_until_trade("kraken", kraken_v2(frames), LAST_V2))


@pytest.mark.parametrize("bad", ['"-Infinity"', '"NaN"', "-0.25", "1e-100000000"])
async def test_a_v2_snapshot_with_an_impossible_quantity_costs_one_error_and_the_book_stays_verified(bad: str) -> None:
    snapshot, update = v2_book()
    poisoned = snapshot.replace('"qty":0.18967538', f'"qty":{bad}', 1)
    assert poisoned != snapshot
    frames = [V2_INSTRUMENT % 1, poisoned, snapshot, update, V2_TRADE % (LAST_V2, "0.5", 7)]
    assert_one_error_and_the_feed_goes_on(*await feed_until_trade("kraken", kraken_v2(frames), LAST_V2))


async def test_a_v2_trade_of_nan_at_minus_infinity_is_an_error_not_a_trade() -> None:
    snapshot, update = v2_book()
    frames = [
        V2_INSTRUMENT % 1,
        snapshot,
        V2_TRADE % ('"NaN"', '"-Infinity"', 6),
        update,
        V2_TRADE % (LAST_V2, "0.5", 7),
    ]
    events, stats, valid = await feed_until_trade("kraken", kraken_v2(frames), LAST_V2)
    assert [trade.trade_id for trade in of(Trade, events)] == ["7"]  # no trade of NaN
    assert_one_error_and_the_feed_goes_on(events, stats, valid)


@pytest.mark.parametrize("precision", ["-1", "100000000"])
async def test_a_v2_instrument_with_an_impossible_precision_costs_one_error_and_books_stay_verified(
    precision: str,
) -> None:
    snapshot, update = v2_book()
    frames = [V2_INSTRUMENT % precision, V2_INSTRUMENT % 1, snapshot, update, V2_TRADE % (LAST_V2, "0.5", 7)]
    assert_one_error_and_the_feed_goes_on(*await feed_until_trade("kraken", kraken_v2(frames), LAST_V2))


@pytest.mark.parametrize("bad", ['"1e999999999999"', '"NaN"', '"-Infinity"', '"1e-999999"', '"0e999999"'])
async def test_a_v1_snapshot_with_an_impossible_ask_costs_one_error_and_the_book_stays_verified(bad: str) -> None:
    snapshot, update = v1_book()
    poisoned = snapshot.replace(V1_ASK, bad, 1)
    frames = [poisoned, snapshot, update, V1_TRADE % (LAST_V1, "0.1")]
    events, stats, valid = await feed_until_trade("kraken-v1", kraken_v1(frames), LAST_V1)
    assert_one_error_and_the_feed_goes_on(events, stats, valid)


async def test_a_v1_book_level_with_a_negative_volume_costs_one_error() -> None:
    snapshot, update = v1_book()
    poisoned = snapshot.replace('"4.28732553"', '"-4.28732553"', 1)
    assert poisoned != snapshot
    frames = [poisoned, snapshot, update, V1_TRADE % (LAST_V1, "0.1")]
    assert_one_error_and_the_feed_goes_on(*await feed_until_trade("kraken-v1", kraken_v1(frames), LAST_V1))


async def test_a_117_byte_frame_with_a_huge_exponent_costs_no_more_than_a_few_mib() -> None:
    """``1e100000000`` written out in full for a checksum would be a hundred million digits."""
    attack = '[336,{"as":[["1e100000000","1.0","1693415327.935623"]],"bs":[["2.0","1.0","1693415328.088361"]]},"book-10","XBT/USD"]'
    assert len(attack) == 117
    go = anyio.Event()
    script = kraken_v1([attack, V1_TRADE % (LAST_V1, "0.1")], after=go)
    tracemalloc.start()
    try:
        async with HostileVenue(script) as venue, sdk.connect("kraken-v1", venue.url) as feed:
            await feed.subscribe(sdk.book("BTC/USD", depth=10), sdk.trades("BTC/USD"))
            await collect_until(feed, lambda es: len(of(Subscribed, es)) == 2, timeout=5)
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            go.set()
            events = await collect_until(feed, lambda es: bool(of(Trade, es)), timeout=30)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - held < 4 * MiB, f"peak {(peak - held) / MiB:.1f} MiB above what the feed held"
    assert len(of(ErrorEvent, events)) == 1


async def test_long_number_texts_do_not_stay_resident_after_the_feed_closes(caplog: pytest.LogCaptureFixture) -> None:
    """Leading zeros make a number text as long as a venue likes; none of it may be kept."""
    caplog.set_level(logging.ERROR, logger="xfeeds")  # captured warnings would keep each frame alive
    prices = [f"{'0' * (256 * 1024)}{n}.5" for n in range(1, 41)]  # 40 distinct texts of 256 KiB
    frames = [V1_TRADE % (price, "0.1") for price in prices] + [V1_TRADE % (LAST_V1, "0.1")]
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        events, _, _ = await feed_until_trade("kraken-v1", kraken_v1(frames), LAST_V1)
        del events
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 2 * MiB, f"{(after - before) / MiB:.1f} MiB still held after the feed closed"


def midchains(frames: Sequence[str]) -> Callable[[VenuePeer], Awaitable[None]]:
    """A Midchains venue: no acknowledgements (the first data message confirms), then ``frames``."""

    async def script(peer: VenuePeer) -> None:
        await peer.receive_json()
        await peer.send(*frames)
        await peer.hold()

    return script


def midchains_book(*entries: tuple[str, str, str]) -> str:
    """A Midchains book message of (side, price, qty) entries added with ids 1, 2..."""
    books = [
        {"side": side, "act": "A", "src": "CROX", "price": price, "qty": qty, "id": n, "time": "1614331055706"}
        for n, (side, price, qty) in enumerate(entries, 1)
    ]
    return json.dumps({"security": "BTCUSD", "books": books, "type": "book"})


def midchains_trade(price: str, qty: str, matchid: str) -> str:
    return json.dumps(
        {
            "security": "BTCUSD",
            "src": "CROX",
            "price": price,
            "qty": qty,
            "time": "1614334523954",
            "type": "trade",
            "matchid": matchid,
            "maker_side": "B",
        }
    )


@pytest.mark.parametrize(("price", "qty"), [("NaN", "1"), ("184.3", "-Infinity"), ("1e100000000", "1"), ("1", "-2")])
async def test_a_midchains_book_entry_with_an_impossible_number_costs_one_error(price: str, qty: str) -> None:
    frames = [
        midchains_book(("B", "184.3", "2.85"), ("S", price, qty)),
        midchains_book(("B", "184.3", "2.85"), ("S", "184.5", "1.5")),
        midchains_trade("NaN", "1", "T1"),
        midchains_trade("184.4", "0.5", "T2"),
    ]
    async with HostileVenue(midchains(frames)) as venue, sdk.connect("midchains", venue.url) as feed:
        await feed.subscribe(sdk.book("BTC/USD", depth=10), sdk.trades("BTC/USD"))
        events = await collect_until(feed, lambda es: any(t.trade_id == "T2" for t in of(Trade, es)), timeout=5)
        book = feed.orderbook("BTC/USD")
        assert book.valid and book.best_ask == (Decimal("184.5"), Decimal("1.5"))
    assert len(of(ErrorEvent, events)) == 2  # the bad book message and the trade of NaN
    assert [trade.trade_id for trade in of(Trade, events)] == ["T2"]
