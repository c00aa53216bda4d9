"""Midchains' trading codec: the documented examples, the RSA login, every trading switch of the
dialect in both positions, round trips of placements, and frames it cannot read."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.midchains.dialect import MidchainsDialect
from adapters.midchains.private import MidchainsPrivateCodec
from adapters.midchains.trading import trading
from schemas.events import ErrorEvent, Instrument
from schemas.trading import AccountReady, Balance, Fill, OrderRequest, OrderUpdate
from sdk.account_session import AccountSession
from sdk.credentials import Credentials
from sdk.trading_contract import Answer, Challenge, LoggedIn, LookupAnswer, SnapshotDone
from sdk.wiretext import WireValueError
from tests.conftest import fixture_lines

DOCS = fixture_lines("midchains/trading_docs.jsonl")
PASSWORD = "correct horse battery staple"
CREDENTIALS = Credentials(key="JOHNUSER", secret=PASSWORD)
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
SERVED_KEY = base64.b64encode(
    PRIVATE_KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
).decode()


def doc(line: int) -> str:
    """The documented example on ``line`` (1-based, as in trading_docs.sources.md)."""
    return DOCS[line - 1]


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def order_row(refno: str = "R1", **fields: Any) -> dict[str, Any]:
    row = {"type": "order", "refno": refno, "security": "BTCUSD", "side": "B", "qty": "2", "price": "100"}
    return row | {"liveqty": "2", "execqty": "0", "execamount": "0"} | fields


def limit(**fields: Any) -> OrderRequest:
    terms: dict[str, Any] = {"symbol": "BTC/USD", "side": "buy", "order_type": "limit"}
    return OrderRequest(**terms | {"qty": Decimal("2"), "price": Decimal("100"), "client_order_id": "c1"} | fields)


def placed(codec: MidchainsPrivateCodec, order: OrderRequest, refno: str = "R1") -> Answer:
    """Place ``order`` and feed back the venue's echo accepting it."""
    sent = json.loads(codec.add_order(order, None).text)
    (*_, answer) = codec.decode_frame(json.dumps(sent | {"result": "OK", "refno": refno}), 1)
    assert isinstance(answer, Answer)
    return answer


def state(codec: MidchainsPrivateCodec) -> Any:
    """Everything the codec remembers, comparable."""
    queries = {kind: [(q.purpose, list(q.rows)) for q in waiting] for kind, waiting in codec._queries.items()}
    return (
        dict(codec._orders),
        list(codec._fills),
        list(codec._placing),
        list(codec._cancelling),
        list(codec._order_lookups),
        queries,
        codec._trades_from_ns,
        codec._last_req_id,
    )


# -- the documented examples -----------------------------------------------------------------


def test_the_documented_requests_are_what_the_codec_sends() -> None:
    codec = MidchainsPrivateCodec()
    assert codec.open_session()[0].text == doc(1)
    assert codec.logout().text == doc(6)
    by_amount = OrderRequest(
        symbol="LTC/USD", side="buy", order_type="market", quote_qty=Decimal("180"), time_in_force="ioc"
    )
    assert codec.add_order(by_amount, None).text == doc(8)
    codec.decode_frame(frame(**order_row("5FSDIAGCE768A0")), 1)
    assert codec.cancel_order(None, venue_order_ids=["5FSDIAGCE768A0"]).text == doc(11)
    in_doubt = OrderUpdate(
        exchange="midchains", symbol="LTC/USD", side="buy", state="new", venue_order_id="5GS08WTIE8CWA0",
        client_order_id="ID1", filled_qty=Decimal(0), ts_received=0,
    )  # fmt: skip
    assert codec.query_order(in_doubt, None).text == doc(14)


def test_the_documented_login_request_is_shaped_as_the_codec_sends_it() -> None:
    codec = MidchainsPrivateCodec()
    (challenge,) = codec.decode_frame(doc(2), 1)
    assert isinstance(challenge, Challenge)
    sent = json.loads(codec.login(Credentials(key="USERNAME", secret="password"), challenge).text)
    documented = json.loads(doc(3))
    assert list(sent) == list(documented) and sent["userid"] == documented["userid"]
    assert len(base64.b64decode(sent["pass"], validate=True)) == 128  # the doc's 1024-bit key: one block


def test_the_documented_queries_differ_from_the_codecs_only_where_the_docs_disagree_with_themselves() -> None:
    """The docs' ``querymultiorder`` (no s, with a refno) is answered as ``querymultiorders``, the
    name the codec sends; its trade and position queries ask for every security, not one."""
    codec = MidchainsPrivateCodec()
    login = (1557323619303 + 60_000) * 1_000_000
    codec.decode_frame(doc(4), login)
    assert [f.method for f in codec.subscribe_private(None)] == ["querymultiorders", "querypos"]
    codec.decode_frame(doc(4), login + 10**12)  # logged in again: fills made while away are asked for
    trades, orders, positions = (json.loads(f.text) for f in codec.subscribe_private(None))
    documented = json.loads(doc(20))
    assert trades == {"type": "querytrade", "fromtime": documented["fromtime"]}
    assert documented.keys() - trades.keys() == {"security"}
    assert orders == {"type": "querymultiorders"} and json.loads(doc(17))["type"] == "querymultiorder"
    assert positions == {"type": "querypos"} and json.loads(doc(23)).keys() - positions.keys() == {"security"}


def test_the_documented_session_replies_decode() -> None:
    codec = MidchainsPrivateCodec()
    (challenge,) = codec.decode_frame(doc(2), 1)
    assert isinstance(challenge, Challenge) and challenge.key == json.loads(doc(2))["key"]
    accepted = codec.decode_frame(doc(4), 2)
    assert accepted[0] == LoggedIn(True)
    assert {i.symbol for i in accepted[1:] if isinstance(i, Instrument)} == {"BTC/USD", "BCH/USD", "ETH/USD", "LTC/USD"}
    assert codec.decode_frame(doc(5), 3) == [LoggedIn(False, "invalid user/password")]
    assert codec.decode_frame(doc(7), 4) == []


def test_the_documented_addorder_replies_settle_the_placements_they_echo() -> None:
    codec = MidchainsPrivateCodec()
    by_amount = OrderRequest(
        symbol="LTC/USD", side="buy", order_type="market", quote_qty=Decimal("180"), time_in_force="ioc"
    )
    by_qty = msgspec.structs.replace(by_amount, quote_qty=None, qty=Decimal("180"))
    first, second = codec.add_order(by_qty, None), codec.add_order(by_amount, None)
    new, answer = codec.decode_frame(doc(9), 5)  # echoes the amount: the second placement's
    assert isinstance(new, OrderUpdate) and (new.state, new.venue_order_id) == ("pending_new", "5Z451OTIU191C3")
    assert new.quote_qty == Decimal("180") and new.symbol == "LTC/USD" and new.order_type == "market"
    assert answer == Answer(second.req_id, "addorder", True, None, (new,))
    rejected, refusal = codec.decode_frame(doc(10), 6)
    assert isinstance(rejected, OrderUpdate) and rejected.state == "rejected"
    assert rejected.reason == "cannot use qty for market buy order" and rejected.qty == Decimal("180")
    assert refusal == Answer(first.req_id, "addorder", False, "cannot use qty for market buy order", (rejected,))


def test_the_documented_cancel_replies_answer_the_cancel() -> None:
    codec = MidchainsPrivateCodec()
    codec.decode_frame(frame(**order_row("5FSDIAGCE768A0")), 1)
    sent = codec.cancel_order(None, venue_order_ids=["5FSDIAGCE768A0"])
    assert codec.decode_frame(doc(12), 2) == [Answer(sent.req_id, "cancelorder", True)]
    again = codec.cancel_order(None, venue_order_ids=["5FSDIAGCE768A0"])
    error, answer = codec.decode_frame(doc(13), 3)
    assert isinstance(error, ErrorEvent) and "order not found" in error.message
    assert answer == Answer(again.req_id, "cancelorder", False, "order not found")


def test_the_documented_queryorder_replies_answer_the_lookup() -> None:
    codec = MidchainsPrivateCodec()
    in_doubt = OrderUpdate(
        exchange="midchains", symbol="BTC/USD", side="sell", state="new", venue_order_id="5GS08WTIE8CWA0",
        client_order_id="ID1", filled_qty=Decimal(0), ts_received=0,
    )  # fmt: skip
    codec.query_order(in_doubt, None)
    update, answer = codec.decode_frame(doc(15), 7)
    assert isinstance(update, OrderUpdate) and answer == LookupAnswer("ID1", update)
    assert (update.state, update.qty, update.filled_qty, update.avg_price) == (
        "partially_filled", Decimal("1000"), Decimal("100"), Decimal("100"),
    )  # fmt: skip
    assert (update.side, update.price, update.ts_exchange) == ("sell", Decimal("100"), 1557505235085 * 1_000_000)
    codec.query_order(in_doubt, None)
    assert codec.decode_frame(doc(16), 8) == [LookupAnswer("ID1", None)]


def test_the_documented_listings_rebuild_the_snapshot() -> None:
    codec = MidchainsPrivateCodec()
    codec.subscribe_private(None)
    # the docs' three orders are done (liveqty 0) and were never this account's: history, not news
    assert codec.decode_frame(doc(18), 1) == [SnapshotDone("orders", ())]
    balances = codec.decode_frame(doc(24), 2)
    assert balances[-1] == SnapshotDone("balances")
    assert [(b.asset, b.total, b.available) for b in balances if isinstance(b, Balance)] == [
        ("LTC", Decimal("300"), None),
        ("USD", Decimal("300"), None),
    ]
    codec.subscribe_private(None)
    assert codec.decode_frame(doc(19), 3) == [SnapshotDone("orders", ())]
    assert codec.decode_frame(doc(25), 4) == [SnapshotDone("balances")]  # "no position": holds nothing


def test_the_documented_trades_are_fills_delivered_once() -> None:
    codec = MidchainsPrivateCodec()
    fills = codec.decode_frame(doc(21), 1)
    assert [(f.fill_id, f.venue_order_id, f.symbol, f.side, f.qty, f.price) for f in fills if isinstance(f, Fill)] == [
        ("5GQBE9BCZOO0A32_5GQBE9BCZOO2", "5GQBE9BCZOO0A3", "MSFT", "buy", Decimal("10"), Decimal("30")),
        ("5GQBE9BCZN4GA72_5GQBE9BCZN4I", "5GQBE9BCZN4GA7", "ZVZZT", "buy", Decimal("10"), Decimal("100.5")),
    ]
    assert codec.decode_frame(doc(21), 2) == []
    assert codec.decode_frame(doc(22), 3) == []


def test_every_documented_reply_decodes() -> None:
    codec = MidchainsPrivateCodec()
    for line in DOCS:
        if '"result"' in line:
            codec.decode_frame(line, 1)


# -- login -----------------------------------------------------------------------------------


def test_the_login_seals_the_password_with_the_served_key() -> None:
    codec = MidchainsPrivateCodec()
    (challenge,) = codec.decode_frame(frame(type="challenge", result="OK", key=SERVED_KEY), 1)
    assert isinstance(challenge, Challenge)
    sent = codec.login(CREDENTIALS, challenge)
    login = json.loads(sent.text)
    assert login["type"] == "login" and login["userid"] == "JOHNUSER"
    assert PRIVATE_KEY.decrypt(base64.b64decode(login["pass"]), padding.PKCS1v15()).decode() == PASSWORD
    assert codec.login(CREDENTIALS, challenge).text != sent.text  # the padding is random


def test_the_password_appears_in_no_repr_event_or_error() -> None:
    codec = MidchainsPrivateCodec()
    (challenge,) = codec.decode_frame(frame(type="challenge", result="OK", key=SERVED_KEY), 1)
    assert isinstance(challenge, Challenge)
    sent = codec.login(CREDENTIALS, challenge)
    events = codec.decode_frame(frame(type="login", result="invalid user/password"), 2)
    printed = [repr(sent), str(sent), sent.text, repr(codec), repr(challenge), repr(CREDENTIALS), *map(repr, events)]
    assert not [text for text in printed if PASSWORD in text]
    with pytest.raises(ValueError, match="seals at most 117") as too_long:
        codec.login(Credentials(key="u", secret=PASSWORD * 10), challenge)
    assert PASSWORD not in str(too_long.value)


def test_a_challenge_key_that_cannot_seal_is_an_unreadable_frame() -> None:
    codec = MidchainsPrivateCodec()
    for key in ("not base64!", base64.b64encode(b"not DER").decode(), "A" * 5000):
        with pytest.raises(WireValueError, match="challenge key"):
            codec.decode_frame(frame(type="challenge", result="OK", key=key), 1)
    refused = codec.decode_frame(frame(type="challenge", result="try later"), 1)
    assert isinstance(refused[0], ErrorEvent) and "try later" in refused[0].message


def test_an_account_session_logs_in_and_becomes_ready() -> None:
    codec = MidchainsPrivateCodec()
    session = AccountSession(codec, trading.rate_counter(), login=CREDENTIALS)
    session.connection_made(0.0, 0)
    assert [f.method for f in session.take_outgoing()] == ["challenge"]
    session.receive([frame(type="challenge", result="OK", key=SERVED_KEY)], 0.1, 1)
    (login,) = session.take_outgoing()
    sealed = base64.b64decode(json.loads(login.text)["pass"])
    assert PRIVATE_KEY.decrypt(sealed, padding.PKCS1v15()) == PASSWORD.encode()
    session.receive([frame(type="login", result="OK")], 0.2, 2)
    assert [f.method for f in session.take_outgoing()] == ["querymultiorders", "querypos"]
    listing = {"type": "querymultiorders", "result": "OK", "data": [order_row()], "total_rec": 1}
    events = session.receive([json.dumps(listing), frame(type="querypos", result="no position")], 0.3, 3)
    assert isinstance(events[-1], AccountReady) and events[-1].open_orders == 1
    assert "R1" in session.orders


# -- placements, cancels, rows ----------------------------------------------------------------


def test_a_listing_split_over_frames_completes_when_every_record_arrived() -> None:
    codec = MidchainsPrivateCodec()
    codec.subscribe_private(None)
    rows = [order_row("R1"), order_row("R2", liveqty="0", execqty="2", execamount="200"), order_row("R3")]
    first = codec.decode_frame(frame(type="querymultiorders", result="OK", data=rows[:2], total_rec=3), 1)
    assert not [e for e in first if isinstance(e, SnapshotDone)]
    rest = codec.decode_frame(frame(type="querymultiorders", result="OK", data=rows[2:], total_rec=3), 2)
    assert rest[-1] == SnapshotDone("orders", ("R1", "R3"))  # R2 was done before this account saw it
    assert [e.venue_order_id for e in first + rest if isinstance(e, OrderUpdate)] == ["R1", "R3"]


def test_order_rows_derive_states_and_report_only_news() -> None:
    codec = MidchainsPrivateCodec()
    placed(codec, limit())
    (part,) = codec.decode_frame(frame(**order_row(liveqty="1.5", execqty="0.5", execamount="50")), 2)
    assert isinstance(part, OrderUpdate) and part.state == "partially_filled" and part.client_order_id == "c1"
    assert codec.decode_frame(frame(**order_row(liveqty="1.5", execqty="0.5", execamount="50")), 3) == []
    (done,) = codec.decode_frame(frame(**order_row(liveqty="0", execqty="2", execamount="199")), 4)
    assert isinstance(done, OrderUpdate) and (done.state, done.avg_price) == ("filled", Decimal("99.5"))
    (impossible,) = codec.decode_frame(frame(**order_row(liveqty="2", execqty="2")), 5)
    assert isinstance(impossible, ErrorEvent) and "not a possible move" in impossible.message


def test_cancels_name_one_known_order_by_refno() -> None:
    codec = MidchainsPrivateCodec()
    placed(codec, limit())
    assert json.loads(codec.cancel_order(None, venue_order_ids=["R1"]).text) == {
        "type": "cancelorder", "security": "BTCUSD", "refno": "R1",
    }  # fmt: skip
    with pytest.raises(ValueError, match="client id"):
        codec.cancel_order(None, client_order_ids=["c1"])
    with pytest.raises(ValueError, match="one order a request"):
        codec.cancel_order(None, venue_order_ids=["R1", "R2"])
    unseen = codec.cancel_order(None, venue_order_ids=["R9"])
    assert json.loads(unseen.text) == {"type": "cancelorder", "refno": "R9"}  # the venue answers for it (T8)
    (error, answer) = codec.decode_frame(frame(result="order not found", refno="R9", type="cancelorder"), 2)
    assert isinstance(error, ErrorEvent) and answer == Answer(unseen.req_id, "cancelorder", False, "order not found")
    needs_security = MidchainsPrivateCodec(dialect=MidchainsDialect(cancel_by_refno=False))
    with pytest.raises(ValueError, match="needs its security"):
        needs_security.cancel_order(None, venue_order_ids=["R9"])
    with pytest.raises(NotImplementedError, match="no cancel-all"):
        codec.cancel_all(None)
    with pytest.raises(NotImplementedError, match="no amend"):
        codec.amend_order(None, venue_order_id="R1", price=Decimal(1))


def test_orders_the_venue_cannot_take_are_refused_before_sending() -> None:
    codec = MidchainsPrivateCodec()
    for order in (
        limit(reduce_only=True),
        limit(validate_only=True),
        OrderRequest(symbol="BTC/USD", side="buy", order_type="take_profit", qty=Decimal(1), stop_price=Decimal(9)),
    ):
        with pytest.raises(ValueError, match="Midchains has no"):
            codec.add_order(order, None)
    assert not codec._placing


def test_stops_gtt_and_market_orders_are_spelled_as_midchains_does() -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(client_id_echo=False))
    stop = limit(
        order_type="stop_loss_limit", stop_price=Decimal("95"), time_in_force="gtd", expire_time=17_000_000_001
    )
    assert json.loads(codec.add_order(stop, None).text) == {
        "type": "addorder", "security": "BTCUSD", "side": "B", "ordertype": "LMT", "tif": "GTT", "qty": "2",
        "price": "100", "stoptype": "STOP", "stopprice": "95", "exptime": "17",
    }  # fmt: skip
    market = OrderRequest(
        symbol="BTC/USD", side="sell", order_type="stop_loss", qty=Decimal("1E-5"), stop_price=Decimal(90)
    )
    assert json.loads(codec.add_order(market, None).text) == {
        "type": "addorder", "security": "BTCUSD", "side": "S", "ordertype": "MKT", "tif": "IOC", "qty": "0.00001",
        "stoptype": "STOP", "stopprice": "90",
    }  # fmt: skip


# -- the dialect's trading switches ----------------------------------------------------------


@pytest.mark.parametrize("pushes", ["rows", "wrapped"])
def test_t1_pushed_rows_bare_or_wrapped(pushes: str) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(pushes=pushes))  # type: ignore[arg-type]
    rows = {
        "order": order_row(),
        "sale": {"refno": "R1", "security": "BTCUSD", "side": "B", "execqty": "1", "execprice": "100",
                 "traderefno": "T1", "trdtime": "1700000000000"},
        "position": {"security": "BTC", "curpos": "3"},
    }  # fmt: skip
    events = []
    for kind, row in rows.items():
        pushed = row | {"type": kind} if pushes == "rows" else {"type": kind, "data": [row]}
        events.extend(codec.decode_frame(json.dumps(pushed), 1))
    assert [type(e) for e in events] == [OrderUpdate, Fill, Balance]
    other = "wrapped" if pushes == "rows" else "rows"
    with pytest.raises(WireValueError):
        MidchainsPrivateCodec(dialect=MidchainsDialect(pushes=other)).decode_frame(  # type: ignore[arg-type]
            json.dumps(rows["order"] if pushes == "rows" else {"type": "order", "data": [rows["order"]]}), 1
        )


@pytest.mark.parametrize("login_snapshot", [True, False])
def test_t2_the_snapshot_ends_with_the_queries_whether_or_not_login_pushed_it(login_snapshot: bool) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(login_snapshot=login_snapshot))
    codec.decode_frame(frame(type="login", result="OK"), 1)
    sent = [json.loads(f.text) for f in codec.subscribe_private(None)]
    assert sent == [{"type": "querymultiorders"}, {"type": "querypos"}]
    events = []
    if login_snapshot:
        events += codec.decode_frame(frame(**order_row()), 2) + codec.decode_frame(
            frame(type="position", security="USD", curpos="10"), 2
        )
    listing = {"type": "querymultiorders", "result": "OK", "data": [order_row()], "total_rec": 1}
    events += codec.decode_frame(json.dumps(listing), 3)
    positions = {"type": "querypos", "result": "OK", "data": [{"security": "USD", "curpos": "10"}], "total_rec": 1}
    events += codec.decode_frame(json.dumps(positions), 4)
    assert next(e for e in events if isinstance(e, OrderUpdate)).venue_order_id == "R1"
    assert len([e for e in events if isinstance(e, OrderUpdate)]) == 1  # the pushed order is not news again
    assert [e for e in events if isinstance(e, SnapshotDone)] == [
        SnapshotDone("orders", ("R1",)),
        SnapshotDone("balances"),
    ]


@pytest.mark.parametrize("echo", [True, False])
def test_t3_client_ids_sent_and_matched_or_orders_matched_by_terms(echo: bool) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(client_id_echo=echo))
    sent = json.loads(codec.add_order(limit(), None).text)
    assert ("clientorderid" in sent) is echo
    codec.forget_requests()  # the reply is lost with the connection
    in_doubt = OrderUpdate(
        exchange="midchains", symbol="BTC/USD", side="buy", state="unknown", client_order_id="c1", qty=Decimal(2),
        price=Decimal(100), filled_qty=Decimal(0), ts_received=1_700_000_060 * 10**9,
    )  # fmt: skip
    query = json.loads(codec.query_order(in_doubt, None).text)
    assert query == {"type": "querymultiorders", "security": "BTCUSD", "fromtime": "1700000000000"}
    other = order_row("R0", qty="3")
    mine = order_row("R1", **({"clientorderid": "c1"} if echo else {}))
    listing = {"type": "querymultiorders", "result": "OK", "data": [other, mine], "total_rec": 2}
    (answer,) = codec.decode_frame(json.dumps(listing), 2)
    assert isinstance(answer, LookupAnswer) and answer.heuristic is not echo
    assert answer.found is not None and (answer.found.venue_order_id, answer.found.client_order_id) == ("R1", "c1")


def test_t3_an_order_in_doubt_already_shown_without_its_client_id_is_matched_by_terms() -> None:
    """The reconnect's snapshot shows the order in doubt (no client id) before the lookup lists it:
    it is still the match, while an order of the same terms placed with a client id is not."""
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(client_id_echo=False))
    placed(codec, limit(client_order_id="c0"), refno="R0")  # the same terms, its reply received
    codec.add_order(limit(), None)
    codec.forget_requests()  # the reply is lost with the connection
    (shown,) = codec.decode_frame(frame(**order_row("R1", updtime="1700000061000")), 2)
    assert isinstance(shown, OrderUpdate) and shown.client_order_id is None
    in_doubt = OrderUpdate(
        exchange="midchains", symbol="BTC/USD", side="buy", state="unknown", client_order_id="c1", qty=Decimal(2),
        price=Decimal(100), filled_qty=Decimal(0), ts_received=1_700_000_060 * 10**9,
    )  # fmt: skip
    codec.query_order(in_doubt, None)
    rows = [order_row("R0", updtime="1700000059000"), order_row("R1", updtime="1700000061000")]
    listing = {"type": "querymultiorders", "result": "OK", "data": rows, "total_rec": 2}
    (answer,) = codec.decode_frame(json.dumps(listing), 3)
    assert isinstance(answer, LookupAnswer) and answer.heuristic
    assert answer.found is not None and (answer.found.venue_order_id, answer.found.client_order_id) == ("R1", "c1")


@pytest.mark.parametrize("finished_short", ["canceled", "expired"])
def test_t4_an_order_done_short(finished_short: str) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(finished_short=finished_short))  # type: ignore[arg-type]
    placed(codec, limit())
    (done,) = codec.decode_frame(frame(**order_row(liveqty="0", execqty="0.5", execamount="50")), 2)
    assert isinstance(done, OrderUpdate) and done.state == finished_short and done.filled_qty == Decimal("0.5")


@pytest.mark.parametrize("text", ["rate limit exceeded", "too many requests"])
def test_t5_the_rate_limit_refusal(text: str) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(rate_limit_result=text))
    assert codec.rate_limited(text) and not codec.rate_limited("not enough fund")
    assert not codec.token_rejected(text)
    sent = json.loads(codec.add_order(limit(), None).text)
    rejected, answer = codec.decode_frame(json.dumps(sent | {"result": text}), 1)
    assert isinstance(answer, Answer) and not answer.ok and codec.rate_limited(answer.error or "")
    assert isinstance(rejected, OrderUpdate) and rejected.state == "rejected" and rejected.reason == text


@pytest.mark.parametrize(
    ("post_only", "sent"), [("alo", {"ordertype": "LMT", "alo": True}), ("ordertype", {"ordertype": "POST"})]
)
def test_t6_post_only_orders(post_only: str, sent: dict[str, Any]) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(post_only=post_only))  # type: ignore[arg-type]
    request = json.loads(codec.add_order(limit(post_only=True), None).text)
    assert request.items() >= sent.items()
    answer = placed(codec, limit(post_only=True, client_order_id="c2"), "R2")
    assert answer.updates[0].order_type == "limit"
    (row,) = codec.decode_frame(frame(**order_row("R2", ordertype=request["ordertype"], clientorderid="c2")), 3)
    assert isinstance(row, OrderUpdate) and row.order_type == "limit"


def test_t6_post_only_refused() -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(post_only="refused"))
    with pytest.raises(ValueError, match="T6"):
        codec.add_order(limit(post_only=True), None)


@pytest.mark.parametrize("dead_man", ["emulated", "none"])
def test_t7_no_dead_mans_switch_on_the_socket(dead_man: str) -> None:
    """``NotImplementedError`` has the account emulate the switch; ``ValueError`` refuses to arm one."""
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(dead_man=dead_man))  # type: ignore[arg-type]
    refusal = NotImplementedError if dead_man == "emulated" else ValueError
    with pytest.raises(refusal, match="emulates" if dead_man == "emulated" else "none is emulated"):
        codec.cancel_all_orders_after(60, None)


# -- properties -------------------------------------------------------------------------------

_amounts = st.decimals(min_value=Decimal("1E-8"), max_value=Decimal("1E+6"), places=8, allow_nan=False)


@st.composite
def order_requests(draw: st.DrawFn) -> OrderRequest:
    kind = draw(st.sampled_from(["market", "limit", "stop_loss", "stop_loss_limit"]))
    priced = kind in ("limit", "stop_loss_limit")
    by_amount = kind == "market" and draw(st.booleans())
    tif = draw(st.sampled_from(["gtc", "ioc", "fok", "gtd"]))
    post_only = kind == "limit" and tif in ("gtc", "gtd") and draw(st.booleans())
    return OrderRequest(
        symbol=draw(st.sampled_from(["BTC/USD", "ETH/USD", "LTC/USD"])),
        side=draw(st.sampled_from(["buy", "sell"])),
        order_type=kind,
        qty=None if by_amount else draw(_amounts),
        quote_qty=draw(_amounts) if by_amount else None,
        price=draw(_amounts) if priced else None,
        stop_price=draw(_amounts) if kind.startswith("stop") else None,
        time_in_force=tif,
        expire_time=draw(st.integers(1, 2**62)) if tif == "gtd" else None,
        post_only=post_only,
        client_order_id=draw(st.text("0123456789abcdef", min_size=1, max_size=32)),
    )


@settings(max_examples=200, deadline=None)
@given(order_requests(), st.sampled_from(["alo", "ordertype"]), st.booleans())
def test_the_echo_of_a_placement_settles_it_with_its_terms(order: OrderRequest, post_only: str, echo: bool) -> None:
    codec = MidchainsPrivateCodec(dialect=MidchainsDialect(post_only=post_only, client_id_echo=echo))  # type: ignore[arg-type]
    other = msgspec.structs.replace(order, client_order_id="other", side="sell" if order.side == "buy" else "buy")
    codec.add_order(other, None)
    answer = placed(codec, order, "REFNO")
    (update,) = answer.updates
    assert update.state == "pending_new" and update.venue_order_id == "REFNO"
    for name in ("symbol", "side", "order_type", "qty", "quote_qty", "price", "stop_price", "client_order_id"):
        assert getattr(update, name) == getattr(order, name), name
    assert len(codec._placing) == 1  # the other placement still awaits its reply


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_typed = st.builds(
    lambda kind, body: json.dumps({**body, "type": kind}),
    st.sampled_from(["challenge", "login", "addorder", "cancelorder", "queryorder", "querymultiorders",
                     "querytrade", "querypos", "querypendingpos", "order", "sale", "position", "logout"]),
    st.dictionaries(st.sampled_from(["result", "data", "refno", "security", "side", "qty", "liveqty", "execqty",
                                     "total_rec", "key", "curpos", "traderefno", "execprice", "updtime"]), _json),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64) | _typed)
def test_garbage_raises_only_wire_value_error_and_changes_nothing(garbage: bytes | str) -> None:
    codec = MidchainsPrivateCodec()
    placed(codec, limit())
    codec.subscribe_private(None)
    codec.query_order(msgspec.structs.replace(codec._orders["R1"], client_order_id="c1"), None)
    before = state(codec)
    try:
        codec.decode_frame(garbage, 9)
    except WireValueError:
        assert state(codec) == before


def test_pending_positions_say_what_open_orders_hold() -> None:
    codec = MidchainsPrivateCodec()
    assert json.loads(codec.query_pending_positions().text) == {"type": "querypendingpos"}
    row = {"curpos": "2000.5", "managedpos": "49", "openpos": "0", "rec_no": 1, "security": "BTC", "type": "position"}
    (balance,) = codec.decode_frame(frame(type="querypendingpos", result="OK", data=[row], total_rec=1), 1)
    assert isinstance(balance, Balance) and (balance.total, balance.available) == (Decimal("2000.5"), Decimal("1951.5"))


def test_a_fill_pushed_and_listed_again_after_a_reconnect_is_delivered_once() -> None:
    codec = MidchainsPrivateCodec()
    placed(codec, limit())
    sale = {"refno": "R1", "security": "BTCUSD", "side": "B", "execqty": 1, "execprice": 100.5, "traderefno": "T1"}
    (fill,) = codec.decode_frame(frame(type="sale", **sale, trdtime="1700000000000"), 1)
    assert isinstance(fill, Fill) and (fill.client_order_id, fill.price) == ("c1", Decimal("100.5"))
    codec.decode_frame(frame(type="login", result="OK"), 2)
    codec.decode_frame(frame(type="login", result="OK"), 3)
    trades, *_ = (json.loads(f.text) for f in codec.subscribe_private(None))
    assert trades == {"type": "querytrade", "fromtime": str(1700000000000 - 60_000)}
    listed = frame(type="querytrade", result="OK", data=[sale, sale | {"traderefno": "T2"}], total_rec=2)
    assert [f.fill_id for f in codec.decode_frame(listed, 4) if isinstance(f, Fill)] == ["T2"]


def test_refused_lookups_and_snapshots_say_so_instead_of_proving_anything() -> None:
    codec = MidchainsPrivateCodec()
    in_doubt = OrderUpdate(
        exchange="midchains", symbol="BTC/USD", side="buy", state="unknown", venue_order_id="R9",
        client_order_id="c9", filled_qty=Decimal(0), ts_received=0,
    )  # fmt: skip
    codec.query_order(in_doubt, None)
    refused = {"result": "rate limit exceeded", "refno": "R9", "security": "BTCUSD"}
    assert codec.decode_frame(frame(type="queryorder", **refused), 1) == [
        LookupAnswer("c9", None, failed="rate limit exceeded")
    ]
    by_terms = OrderUpdate(**{**{f: getattr(in_doubt, f) for f in in_doubt.__struct_fields__}, "venue_order_id": None})
    codec.query_order(by_terms, None)
    assert codec.decode_frame(frame(type="querymultiorders", result="rate limit exceeded"), 2) == [
        LookupAnswer("c9", None, failed="rate limit exceeded")
    ]
    codec.subscribe_private(None)
    assert codec.decode_frame(frame(type="querymultiorders", result="rate limit exceeded"), 3) == [
        SnapshotDone("orders", failed="rate limit exceeded")
    ]
    assert codec.decode_frame(frame(type="querypos", result="rate limit exceeded"), 4) == [
        SnapshotDone("balances", failed="rate limit exceeded")
    ]
