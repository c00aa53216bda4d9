"""The Midchains simulator's trading side over loopback, with raw frames: the RSA login, the login
window, orders, queries and pushed rows in the documentation's shapes, every trading switch of the
dialect in both positions, and the trading fault switches."""

from __future__ import annotations

import base64
import json
import re
import time
from decimal import Decimal
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from adapters.midchains.dialect import MidchainsDialect
from adapters.midchains.simulator import DEFAULT_TEST_PASSWORD, DEFAULT_TEST_USER, MidchainsSimulator
from adapters.midchains.trading_simulator import (
    INVALID_LOGIN,
    INVALID_SECURITY,
    MARKET_BUY_QTY,
    NO_POSITION,
    NOT_ENOUGH_FUND,
    NOT_LOGGED_IN,
    ORDER_NOT_FOUND,
    PAGE,
    PRICE_OFF_GRID,
    QTY_BELOW_MINIMUM,
    QTY_OFF_GRID,
)
from sdk.simulation.desk import OrderTerms
from sdk.simulation.matching import OrderSpec
from sdk.transport import ConnectionClosed, WebSocket, connect
from tests.conftest import fixture_lines

pytestmark = [pytest.mark.loopback, pytest.mark.anyio]

DOCS = [json.loads(line) for line in fixture_lines("midchains/trading_docs.jsonl")]


def documented(kind: str, result: str = "OK") -> set[str]:
    """The keys of the documentation's reply of ``kind`` with ``result``."""
    return next(set(line) for line in DOCS if line.get("type") == kind and line.get("result") == result)


def encrypt(key: str, password: str) -> str:
    public = load_der_public_key(base64.b64decode(key))
    assert isinstance(public, rsa.RSAPublicKey)
    return base64.b64encode(public.encrypt(password.encode(), padding.PKCS1v15())).decode()


class Client:
    """A socket speaking Midchains' private protocol in raw frames."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.frames: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        await self.websocket.send_text(json.dumps(message))

    async def until(self, done: Any, timeout: float = 5) -> None:
        with anyio.fail_after(timeout):
            while not done():
                for message in await self.websocket.receive_batch():
                    frame = json.loads(message)
                    if frame.get("type") not in ("open", "heartbeat", "book", "trade"):
                        self.frames.append(frame)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("type") == kind]

    async def answer(self, kind: str, count: int = 1, **message: Any) -> dict[str, Any]:
        """Send a request and return its ``count``-th new reply (replies share the request's type)."""
        seen = len(self.of(kind if kind != "querymultiorder" else "querymultiorders"))
        await self.send(type=kind, **message)
        reply_kind = kind if kind != "querymultiorder" else "querymultiorders"
        await self.until(lambda: len(self.of(reply_kind)) >= seen + count)
        return self.of(reply_kind)[seen + count - 1]

    def rows(self, kind: str) -> list[dict[str, Any]]:
        """Pushed rows of ``kind``, whether pushed alone or wrapped."""
        found = []
        for frame in self.of(kind):
            found += frame["data"] if "data" in frame and "result" not in frame else [frame]
        return found


async def logged_in(
    simulator: MidchainsSimulator, user: str = DEFAULT_TEST_USER, password: str = DEFAULT_TEST_PASSWORD
) -> tuple[Client, dict[str, Any]]:
    client = Client(await connect(simulator.url))
    challenge = await client.answer("challenge")
    login = await client.answer("login", userid=user, **{"pass": encrypt(challenge["key"], password)})
    return client, login


def prices(simulator: MidchainsSimulator) -> tuple[Decimal, Decimal, Decimal]:
    state = simulator.market.state("BTC/USD")
    assert state.bids.best() is not None and state.asks.best() is not None
    return state.bids.best(), state.asks.best(), state.instrument.tick  # type: ignore[return-value]


async def test_login_uses_the_served_key_and_refuses_a_wrong_password() -> None:
    async with MidchainsSimulator() as simulator:
        client = Client(await connect(simulator.url))
        challenge = await client.answer("challenge")
        assert set(challenge) == documented("challenge") and challenge["key"] == simulator.public_key
        assert load_der_public_key(base64.b64decode(challenge["key"])).key_size == 1024  # type: ignore[union-attr]
        wrong = await client.answer("login", userid=DEFAULT_TEST_USER, **{"pass": encrypt(challenge["key"], "nope")})
        assert wrong == {"result": INVALID_LOGIN, "type": "login"}
        garbage = await client.answer("login", userid=DEFAULT_TEST_USER, **{"pass": "not base64!"})
        assert garbage["result"] == INVALID_LOGIN
        other, _ = await logged_in(simulator, user="nobody")
        assert other.of("login")[-1]["result"] == INVALID_LOGIN
        ok = await client.answer(
            "login", userid=DEFAULT_TEST_USER, **{"pass": encrypt(challenge["key"], DEFAULT_TEST_PASSWORD)}
        )
        assert ok == {"result": "OK", "type": "login"}
        simulator.refuse_logins = "account locked"
        _, refused = await logged_in(simulator)
        assert refused == {"result": "account locked", "type": "login"}
        assert any(DEFAULT_TEST_USER in line and DEFAULT_TEST_PASSWORD in line for line in simulator.banner)


async def test_logout_is_answered_then_the_socket_closes() -> None:
    async with MidchainsSimulator() as simulator:
        client, _ = await logged_in(simulator)
        assert await client.answer("logout") == {"result": "OK", "type": "logout"}
        with pytest.raises(ConnectionClosed), anyio.fail_after(5):
            await client.until(lambda: False)


async def test_the_login_window_closes_trading_sockets_only() -> None:
    dialect = MidchainsDialect(login_window_s=0.3)
    async with MidchainsSimulator(dialect=dialect, tick_interval=0.02) as simulator:
        trading = Client(await connect(simulator.url))
        assert (await trading.answer("queryorder", security="BTCUSD", refno="X"))["result"] == NOT_LOGGED_IN
        market = Client(await connect(simulator.url))
        await market.send(type="subscribe", request=[{"msg": "trade", "security": "BTCUSD", "dest": "CROX"}])
        ready, _ = await logged_in(simulator)
        with pytest.raises(ConnectionClosed) as closed, anyio.fail_after(5):
            await trading.until(lambda: False)
        assert closed.value.reason == "login timeout"
        with anyio.move_on_after(0.4):
            await market.until(lambda: False)  # never closed: it asked for market data only
        assert (await ready.answer("querypos"))["result"] == "OK"


async def test_orders_queries_and_pushes_have_the_documented_shapes() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator:
        client, _ = await logged_in(simulator)
        await client.until(lambda: len(client.rows("position")) >= 5)  # the login snapshot
        bid, ask, tick = prices(simulator)
        rest = {"security": "BTCUSD", "side": "B", "qty": "0.01", "price": str(bid - 300 * tick), "clientorderid": "r1"}
        placed = await client.answer("addorder", **rest)
        assert set(placed) == documented("addorder") - {"tif", "ordertype", "amount"} | {
            "qty",
            "price",
            "clientorderid",
        }
        refno = placed["refno"]
        assert re.fullmatch("[0-9A-Z]{14}", refno)
        await client.until(lambda: client.rows("order"))
        row = client.rows("order")[-1]
        assert set(row) == set(DOCS[14]["data"])  # the documented queryorder record
        assert (row["liveqty"], row["execqty"], row["clientorderid"]) == ("0.01", "0", "r1")
        queried = await client.answer("queryorder", security="BTCUSD", refno=refno)
        assert set(queried) == documented("queryorder") and queried["data"]["refno"] == refno
        missing = await client.answer("queryorder", security="BTCUSD", refno="00000000000000")
        assert set(missing) == documented("queryorder", ORDER_NOT_FOUND)
        canceled = await client.answer("cancelorder", security="BTCUSD", refno=refno)
        assert canceled == {"result": "OK", "security": "BTCUSD", "refno": refno, "type": "cancelorder"}
        await client.until(lambda: client.rows("order")[-1]["liveqty"] == "0")
        again = await client.answer("cancelorder", security="BTCUSD", refno=refno)
        assert again["result"] == ORDER_NOT_FOUND and set(again) == documented("cancelorder", ORDER_NOT_FOUND)

        taker = await client.answer(
            "addorder", security="BTCUSD", side="B", qty="0.02", price=str(ask + 50 * tick), tif="IOC"
        )
        await client.until(lambda: client.rows("sale"))
        sale = client.rows("sale")[0]
        assert set(sale) == set(DOCS[20]["data"][0]) - {"rec_no"} and sale["refno"] == taker["refno"]
        await client.until(
            lambda: any(r["refno"] == taker["refno"] and r["liveqty"] == "0" for r in client.rows("order"))
        )
        positions = client.rows("position")
        await client.until(lambda: len(client.rows("position")) >= len(positions) + 2)
        assert set(client.rows("position")[-1]) == {"curpos", "security", "type"}

        by_qty = await client.answer("addorder", security="BTCUSD", side="B", ordertype="MKT", tif="IOC", qty="180")
        assert by_qty["result"] == MARKET_BUY_QTY and set(by_qty) == documented("addorder", MARKET_BUY_QTY)
        by_amount = await client.answer(
            "addorder", security="BTCUSD", side="B", ordertype="MKT", tif="IOC", amount="180"
        )
        assert set(by_amount) == documented("addorder") and by_amount["amount"] == "180"
        poor = await client.answer("addorder", security="BTCUSD", side="B", qty="1000", price=str(bid))
        assert poor["result"] == NOT_ENOUGH_FUND and "refno" not in poor

        await anyio.sleep(2)  # the private limit refills
        await check_queries(client, refno, sale)


async def check_queries(client: Client, refno: str, sale: dict[str, Any]) -> None:
    """The query replies after a canceled order, a taker fill and a market buy by amount."""
    orders = await client.answer("querymultiorder", security="BTCUSD", refno=refno)
    assert set(orders) == documented("querymultiorders") and orders["total_rec"] == len(orders["data"]) == 3
    assert [r["rec_no"] for r in orders["data"]] == [1, 2, 3]
    assert set(orders["data"][0]) - {"tif", "clientorderid"} == set(DOCS[17]["data"][0])
    later = await client.answer("querymultiorders", fromtime=str(time.time_ns() // 1_000_000 + 60_000))
    assert later == {"result": "OK", "type": "querymultiorders", "total_rec": 0}
    trades = await client.answer("querytrade", security="BTCUSD", fromtime="0")
    assert set(trades) == documented("querytrade") and trades["total_rec"] >= 2
    assert trades["data"][0]["traderefno"] == sale["traderefno"]
    position = await client.answer("querypos", security="BTC")
    assert set(position) == documented("querypos") and position["data"][0]["security"] == "BTC"
    assert (position["firm"], position["userid"]) == ("MIDC", DEFAULT_TEST_USER)
    none = await client.answer("querypos", security="DOGE")
    assert none == {"result": NO_POSITION, "type": "querypos"} == DOCS[24]
    pending = await client.answer("querypendingpos")
    assert {"curpos", "managedpos", "openpos", "rec_no", "security", "type"} == set(pending["data"][0])


async def test_queries_page_a_hundred_records_at_a_time() -> None:
    async with MidchainsSimulator() as simulator:
        bid, _, tick = prices(simulator)
        for n in range(PAGE + 5):
            spec = OrderSpec("BTC/USD", "buy", "limit", qty=Decimal("0.001"), price=bid - (300 + n) * tick)
            simulator.engine.place(DEFAULT_TEST_USER, spec, time.time_ns())
        client, _ = await logged_in(simulator)
        await client.answer("querymultiorders", count=2)
        pages = client.of("querymultiorders")
        assert [len(p["data"]) for p in pages] == [PAGE, 5] and {p["total_rec"] for p in pages} == {PAGE + 5}
        assert [r["rec_no"] for p in pages for r in p["data"]] == list(range(1, PAGE + 6))


@pytest.mark.parametrize("pushes", ["rows", "wrapped"])
@pytest.mark.parametrize("snapshot", [True, False])
async def test_pushes_and_the_login_snapshot(pushes: str, snapshot: bool) -> None:
    dialect = MidchainsDialect(pushes=pushes, login_snapshot=snapshot)  # type: ignore[arg-type]
    async with MidchainsSimulator(dialect=dialect) as simulator:
        bid, _, tick = prices(simulator)
        spec = OrderSpec("BTC/USD", "buy", "limit", qty=Decimal("0.001"), price=bid - 300 * tick)
        order, _ = simulator.engine.place(DEFAULT_TEST_USER, spec, time.time_ns())
        client, _ = await logged_in(simulator)
        if snapshot:
            await client.until(lambda: client.rows("order") and len(client.rows("position")) == 5)
            assert client.rows("order")[0]["refno"] == order.venue_id
            wrapped = [f for f in client.frames if "data" in f and "result" not in f]
            assert bool(wrapped) == (pushes == "wrapped")
        simulator.force_fill(order.venue_id, Decimal("0.0004"), bid)
        await client.until(lambda: client.rows("sale"))
        if not snapshot:
            await anyio.sleep(0.2)
            assert client.rows("position") == []  # followed only once querypos asks
            await client.answer("querypos")
            simulator.force_fill(order.venue_id, Decimal("0.0001"), bid)
        await client.until(lambda: len(client.rows("position")) >= (7 if snapshot else 2))
        assert all(("data" in f) == (pushes == "wrapped") for f in client.of("sale"))


@pytest.mark.parametrize("echo", [True, False])
async def test_client_order_ids_are_echoed_only_where_the_dialect_says(echo: bool) -> None:
    async with MidchainsSimulator(dialect=MidchainsDialect(client_id_echo=echo), tick_interval=0.01) as simulator:
        client, _ = await logged_in(simulator)
        _, ask, tick = prices(simulator)
        terms = {"security": "BTCUSD", "side": "B", "qty": "0.01", "price": str(ask + 50 * tick), "tif": "IOC"}
        reply = await client.answer("addorder", clientorderid="c1", **terms)
        await client.until(lambda: client.rows("sale") and client.rows("order"))
        assert ("clientorderid" in reply) == echo
        assert all(("clientorderid" in row) == echo for row in client.rows("sale") + client.rows("order"))
        assert simulator.orders_received("c1") == (1 if echo else 0)
        assert simulator.orders_received(OrderTerms("BTC/USD", "buy", Decimal("0.01"), ask + 50 * tick)) == 1


@pytest.mark.parametrize("finished_short", ["canceled", "expired"])
async def test_an_order_done_short_is_derived_as_the_dialect_says(finished_short: str) -> None:
    async with MidchainsSimulator(dialect=MidchainsDialect(finished_short=finished_short)) as simulator:  # type: ignore[arg-type]
        client, _ = await logged_in(simulator)
        bid, _, tick = prices(simulator)
        far = await client.answer("addorder", security="BTCUSD", side="B", qty="0.01", price=str(bid - 300 * tick))
        await client.answer("cancelorder", security="BTCUSD", refno=far["refno"])
        await client.until(lambda: client.rows("order") and client.rows("order")[-1]["liveqty"] == "0")
        row = client.rows("order")[-1]
        assert (row["liveqty"], row["execqty"], row["qty"]) == ("0", "0", "0.01")  # no status says which
        assert simulator.derived_state(far["refno"]) == finished_short


@pytest.mark.parametrize("text", ["rate limit exceeded", "too many requests"])
async def test_requests_over_the_private_limit_get_the_dialects_result(text: str) -> None:
    async with MidchainsSimulator(dialect=MidchainsDialect(rate_limit_result=text)) as simulator:
        client, _ = await logged_in(simulator)
        for _ in range(11):
            await client.send(type="querypos", security="BTC")
        await client.until(lambda: len(client.of("querypos")) == 11)
        results = [frame["result"] for frame in client.of("querypos")]
        assert results == ["OK"] * 10 + [text]
        assert client.of("querypos")[-1] == {"result": text, "security": "BTC", "type": "querypos"}


@pytest.mark.parametrize("post_only", ["alo", "ordertype", "refused"])
async def test_post_only_is_asked_for_as_the_dialect_says(post_only: str) -> None:
    async with MidchainsSimulator(dialect=MidchainsDialect(post_only=post_only)) as simulator:  # type: ignore[arg-type]
        client, _ = await logged_in(simulator)
        _, ask, _ = prices(simulator)
        crossing = {"security": "BTCUSD", "side": "B", "qty": "0.01", "price": str(ask)}
        by_alo = await client.answer("addorder", alo=True, **crossing)
        by_type = await client.answer("addorder", ordertype="POST", **crossing)
        results = {"alo": by_alo["result"], "ordertype": by_type["result"]}
        for form, result in results.items():
            if form == post_only:
                assert result == "post only order would take liquidity"
            elif form == "ordertype":
                assert result == "invalid order"  # the venue knows no such order type
            else:
                assert result == "OK" and "alo" not in by_alo  # an unknown field, ignored


@pytest.mark.parametrize("cancel_by_refno", [True, False])
async def test_a_cancel_without_security_is_answered_as_the_dialect_says(cancel_by_refno: bool) -> None:
    async with MidchainsSimulator(dialect=MidchainsDialect(cancel_by_refno=cancel_by_refno)) as simulator:
        client, _ = await logged_in(simulator)
        bid, _, tick = prices(simulator)
        placed = await client.answer("addorder", security="BTCUSD", side="B", qty="0.01", price=str(bid - 300 * tick))
        unknown = await client.answer("cancelorder", refno="5NOSUCHORDER00")
        by_refno = await client.answer("cancelorder", refno=placed["refno"])
        if cancel_by_refno:
            assert (unknown["result"], by_refno["result"]) == (ORDER_NOT_FOUND, "OK")
        else:
            assert (unknown["result"], by_refno["result"]) == (INVALID_SECURITY, INVALID_SECURITY)
            assert (await client.answer("cancelorder", security="BTCUSD", refno=placed["refno"]))["result"] == "OK"


@pytest.mark.parametrize("dead_man", ["emulated", "none"])
async def test_the_venue_has_no_dead_mans_switch(dead_man: str) -> None:
    async with MidchainsSimulator(dialect=MidchainsDialect(dead_man=dead_man)) as simulator:  # type: ignore[arg-type]
        client, _ = await logged_in(simulator)
        bid, _, tick = prices(simulator)
        placed = await client.answer("addorder", security="BTCUSD", side="B", qty="0.01", price=str(bid - 300 * tick))
        await client.websocket.close()
        await anyio.sleep(0.2)
        assert [o.venue_id for o in simulator.engine.open_orders(DEFAULT_TEST_USER)] == [placed["refno"]]


async def test_a_lost_addorder_reply_leaves_the_order_placed_and_counted_once() -> None:
    async with MidchainsSimulator() as simulator:
        client, _ = await logged_in(simulator)
        bid, _, tick = prices(simulator)
        simulator.drop_after_next_order()
        await client.send(
            type="addorder", security="BTCUSD", side="B", qty="0.01", price=str(bid - 300 * tick), clientorderid="lost"
        )
        with pytest.raises(ConnectionClosed), anyio.fail_after(5):
            await client.until(lambda: False)
        assert not client.of("addorder") and simulator.orders_received("lost") == 1
        again, _ = await logged_in(simulator)
        found = await again.answer("querymultiorders")
        assert [r["clientorderid"] for r in found["data"]] == ["lost"]


async def test_rejections_held_fills_and_forced_fills() -> None:
    async with MidchainsSimulator() as simulator:
        client, _ = await logged_in(simulator)
        bid, _, tick = prices(simulator)
        terms = {"security": "BTCUSD", "side": "B", "qty": "0.01", "price": str(bid - 300 * tick)}
        simulator.reject_orders(2)
        first = await client.answer("addorder", clientorderid="a", **terms)
        assert first["result"] == "rate limit exceeded" and "refno" not in first
        assert (await client.answer("querypos"))["result"] == "OK"  # queries are never the switch's to refuse
        assert (await client.answer("cancelorder", security="BTCUSD", refno="NOSUCHORDER000"))["result"] == (
            "rate limit exceeded"
        )
        placed = await client.answer("addorder", clientorderid="b", **terms)
        assert placed["result"] == "OK" and simulator.orders_received("a") == 1
        simulator.hold_fills()
        simulator.force_fill(placed["refno"], Decimal("0.004"), bid - 300 * tick)
        await anyio.sleep(0.2)
        assert client.rows("sale") == []
        assert simulator.release_fills() > 0
        await client.until(lambda: client.rows("sale"))
        sale = client.rows("sale")[0]
        assert (sale["refno"], sale["execqty"], sale["execprice"]) == (placed["refno"], "0.004", terms["price"])
        await client.until(
            lambda: any(r["execqty"] == "0.004" and r["liveqty"] == "0.006" for r in client.rows("order"))
        )


async def test_orders_off_the_listed_grid_are_refused() -> None:
    async with MidchainsSimulator() as simulator:
        client, _ = await logged_in(simulator)
        bid, _, tick = prices(simulator)
        price = bid - 300 * tick
        terms = {"security": "BTCUSD", "side": "B"}
        off_price = await client.answer("addorder", **terms, qty="0.01", price=str(price + tick / 2))
        off_qty = await client.answer("addorder", **terms, qty="0.01005", price=str(price))
        too_small = await client.answer("addorder", **terms, qty="0.00005", price=str(price))
        smallest = await client.answer("addorder", **terms, qty="0.0001", price=str(price))
        results = [r["result"] for r in (off_price, off_qty, too_small, smallest)]
        assert results == [PRICE_OFF_GRID, QTY_OFF_GRID, QTY_BELOW_MINIMUM, "OK"]


async def test_good_till_time_and_stop_orders() -> None:
    async with MidchainsSimulator(tick_interval=0.01) as simulator:
        client, _ = await logged_in(simulator)
        bid, ask, tick = prices(simulator)
        soon = str(time.time_ns() // 1_000_000 + 300)
        gtt = await client.answer(
            "addorder", security="BTCUSD", side="B", qty="0.01", price=str(bid - 300 * tick), tif="GTT", exptime=soon
        )
        assert gtt["result"] == "OK" and gtt["exptime"] == soon
        await client.until(
            lambda: any(r["refno"] == gtt["refno"] and r["liveqty"] == "0" for r in client.rows("order"))
        )
        assert simulator.derived_state(gtt["refno"]) == "canceled"
        no_expiry = await client.answer("addorder", security="BTCUSD", side="B", qty="0.01", price=str(bid), tif="GTT")
        assert no_expiry["result"] == "invalid order"
        stop = {"stoptype": "STOP", "stopprice": str(ask * 2), "tif": "IOC", "ordertype": "MKT", "qty": "0.01"}
        waiting = await client.answer("addorder", security="BTCUSD", side="S", **stop | {"stopprice": str(bid / 2)})
        assert waiting["result"] == "OK"
        queried = await client.answer("queryorder", security="BTCUSD", refno=waiting["refno"])
        assert (queried["data"]["liveqty"], queried["data"]["stopprice"]) == ("0.01", str(bid / 2))
        unpriced = await client.answer(
            "addorder", security="BTCUSD", side="S", stoptype="STOP", qty="0.01", ordertype="MKT", tif="IOC"
        )
        assert unpriced["result"] == "invalid order"
