"""The account session with a venue that logs in on its socket and answers order lookups there:
a toy in-band protocol (one JSON object a frame) drives the rules the Midchains kind of venue needs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from adapters.kraken.ratelimits import trading_rate_counter
from schemas.events import ErrorEvent, Instrument
from schemas.trading import AccountReady, OrderRequest, OrderUpdate
from sdk.account_session import AccountSession
from sdk.credentials import Credentials, Secret
from sdk.trading_contract import (
    Answer,
    Challenge,
    Decoded,
    LoggedIn,
    LookupAnswer,
    SignedFrame,
    SnapshotDone,
    TradingCodec,
)

LOGIN = Credentials(key="trader", secret="hunter2")
ORDER = OrderRequest(symbol="BTC/USD", side="buy", order_type="market", qty=Decimal("1"), client_order_id="c1")


class InBandCodec(TradingCodec):
    """Frames are ``{"type": ...}`` objects; requests get ids from a counter."""

    exchange = "toy"

    def __init__(self) -> None:
        self.last_id = 0

    def _frame(self, method: str, **fields: Any) -> SignedFrame:
        self.last_id += 1
        return SignedFrame(method, self.last_id, json.dumps({"type": method, "id": self.last_id, **fields}))

    def open_session(self) -> list[SignedFrame]:
        return [self._frame("challenge")]

    def login(self, credentials: Credentials, challenge: Challenge) -> SignedFrame:
        return self._frame("login", user=credentials.key, sealed=f"{challenge.key}:{len(credentials.secret.reveal())}")

    def query_order(self, order: OrderUpdate, token: Secret | None) -> SignedFrame:
        return self._frame("query", cid=order.client_order_id)

    def subscribe_private(self, token: Secret | None) -> list[SignedFrame]:
        assert token is None
        return [self._frame("snapshot")]

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        return self._frame("addorder", cid=order.client_order_id)

    def amend_order(self, token: Secret | None, **changes: Any) -> SignedFrame:
        raise NotImplementedError

    def cancel_order(
        self, token: Secret | None, *, venue_order_ids: Sequence[str] = (), client_order_ids: Sequence[str] = ()
    ) -> SignedFrame:
        return self._frame("cancel", ids=list(venue_order_ids))

    def cancel_all(self, token: Secret | None) -> SignedFrame:
        raise NotImplementedError

    def cancel_all_orders_after(self, timeout_s: int, token: Secret | None) -> SignedFrame:
        raise NotImplementedError

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        message = json.loads(frame)
        match message["type"]:
            case "challenge":
                return [Challenge(message["key"])]
            case "login":
                return [LoggedIn(message["result"] == "OK", None if message["result"] == "OK" else message["result"])]
            case "snapshot":
                return [SnapshotDone("orders"), SnapshotDone("balances")]
            case "found":
                found = OrderUpdate(
                    exchange="toy",
                    symbol="BTC/USD",
                    side="buy",
                    state="filled",
                    venue_order_id="R1",
                    client_order_id=message["cid"],
                    qty=Decimal("1"),
                    filled_qty=Decimal("1"),
                    ts_received=received_ns,
                )
                return [LookupAnswer(message["cid"], found, heuristic=True)]
            case "snapfail":
                return [SnapshotDone("orders", failed=message["result"])]
            case "refused":
                return [LookupAnswer(message["cid"], None, failed="rate limit exceeded")]
            case "reply":
                return [Answer(message["id"], message.get("method", "addorder"), message.get("ok", True))]
            case "open" | "partial":
                return [
                    OrderUpdate(
                        exchange="toy",
                        symbol="BTC/USD",
                        side="buy",
                        state="new" if message["type"] == "open" else "partially_filled",
                        venue_order_id=message["refno"],
                        qty=Decimal("1"),
                        filled_qty=Decimal(message.get("filled", 0)),
                        ts_received=received_ns,
                    )
                ]
        return []

    def forget_requests(self) -> None:
        pass

    def token_rejected(self, error: str) -> bool:
        return False

    def rate_limited(self, error: str) -> bool:
        return False


def sent(session: AccountSession) -> list[dict[str, Any]]:
    frames = session.take_outgoing()
    for frame in frames:
        session.sending(frame, 0.0)
    return [json.loads(frame.text) for frame in frames]


def new_session() -> AccountSession:
    session = AccountSession(InBandCodec(), trading_rate_counter(), login=LOGIN)
    session.instruments["BTC/USD"] = Instrument(
        exchange="toy",
        symbol="BTC/USD",
        base="BTC",
        quote="USD",
        status="online",
        price_precision=1,
        qty_precision=8,
        ts_received=0,
    )
    return session


def test_the_session_opens_with_the_challenge_and_logs_in_with_its_key() -> None:
    session = new_session()
    session.connection_made(0.0, 0)
    assert [f["type"] for f in sent(session)] == ["challenge"]
    session.receive(['{"type": "challenge", "key": "PUBKEY"}'], 0.1, 1)
    (login,) = sent(session)
    assert login == {"type": "login", "id": 2, "user": "trader", "sealed": "PUBKEY:7"}
    session.receive(['{"type": "login", "result": "OK"}'], 0.2, 2)
    assert [f["type"] for f in sent(session)] == ["snapshot"]
    events = session.receive(['{"type": "snapshot"}'], 0.3, 3)
    assert isinstance(events[-1], AccountReady) and session.state == "ready"


def test_a_refused_login_drops_the_connection_and_says_why() -> None:
    session = new_session()
    session.connection_made(0.0, 0)
    session.receive(
        ['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "invalid user/password"}'], 0.1, 1
    )
    assert session.login_refused == "invalid user/password"
    assert session.drop_reason == "login refused: invalid user/password"
    assert session.state == "connecting"


def test_orders_in_doubt_are_looked_up_on_the_socket_and_a_heuristic_match_is_reported() -> None:
    session = new_session()
    session.connection_made(0.0, 0)
    session.receive(
        ['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "OK"}', '{"type": "snapshot"}'], 0.1, 1
    )
    sent(session)
    session.place(ORDER, 0.2)
    sent(session)
    session.connection_lost("gone", 0.3, 3)
    session.connection_made(0.4, 4)
    session.receive(
        ['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "OK"}', '{"type": "snapshot"}'], 0.5, 5
    )
    assert [f["type"] for f in sent(session)] == ["challenge", "login", "snapshot", "query"]
    assert session.take_lookups() == [] and session.state == "rebuilding"
    events = session.receive(['{"type": "found", "cid": "c1"}'], 0.6, 6)
    assert [type(e) for e in events] == [ErrorEvent, OrderUpdate, AccountReady]
    assert isinstance(events[0], ErrorEvent) and "matched by its terms" in events[0].message
    assert isinstance(events[1], OrderUpdate) and events[1].state == "filled"


def ready_session() -> AccountSession:
    session = new_session()
    session.connection_made(0.0, 0)
    session.receive(
        ['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "OK"}', '{"type": "snapshot"}'], 0.1, 1
    )
    sent(session)
    return session


def test_a_venue_without_cancel_all_gets_one_cancel_per_open_order_settled_with_the_count() -> None:
    session = ready_session()
    session.receive(['{"type": "open", "refno": "R1"}', '{"type": "open", "refno": "R2"}'], 0.2, 2)
    pending = session.cancel_all(0.3)
    frames = sent(session)
    assert [(f["type"], f["ids"]) for f in frames] == [("cancel", ["R1"]), ("cancel", ["R2"])]
    session.receive([json.dumps({"type": "reply", "id": frames[0]["id"], "method": "cancel"})], 0.4, 4)
    assert not pending.done
    session.receive([json.dumps({"type": "reply", "id": frames[1]["id"], "method": "cancel", "ok": False})], 0.5, 5)
    assert pending.done and pending.result is not None and pending.result.count == 1


def test_a_venue_without_a_dead_mans_switch_gets_a_local_one() -> None:
    session = ready_session()
    session.receive(['{"type": "open", "refno": "R1"}'], 0.2, 2)
    armed = session.cancel_all_after(5, 1.0, 1_000)
    assert armed.done and armed.result is not None and armed.result.trigger_ns == 5_000_001_000
    assert session.next_deadline() == 6.0 and sent(session) == []
    assert session.tick(5.9, 5_900) == []
    (fired,) = session.tick(6.0, 6_000)
    assert isinstance(fired, ErrorEvent) and "dead man's switch fired (emulated locally)" in fired.message
    assert [(f["type"], f["ids"]) for f in sent(session)] == [("cancel", ["R1"])]
    assert session.tick(60.0, 60_000) == [] and sent(session) == []  # it fired once; it is not re-armed


def test_a_local_dead_mans_switch_disarmed_never_fires() -> None:
    session = ready_session()
    session.cancel_all_after(5, 1.0, 1_000)
    disarmed = session.cancel_all_after(0, 2.0, 2_000)
    assert disarmed.result is not None and disarmed.result.trigger_ns is None
    assert session.tick(10.0, 10_000) == []


def test_the_session_refuses_an_impossible_move_whatever_the_codec_lets_through() -> None:
    session = ready_session()
    session.receive(['{"type": "partial", "refno": "R1", "filled": "0.5"}'], 0.2, 2)
    (refused,) = session.receive(['{"type": "partial", "refno": "R1", "filled": "0.25"}'], 0.3, 3)
    assert isinstance(refused, ErrorEvent) and "filled_qty would go down" in refused.message
    assert session.orders["R1"].filled_qty == Decimal("0.5")
    (also,) = session.receive(['{"type": "open", "refno": "R1"}'], 0.4, 4)
    assert isinstance(also, ErrorEvent) and "partially_filled -> new" in also.message


def test_a_login_not_completed_within_the_venues_window_drops_the_socket() -> None:
    session = AccountSession(InBandCodec(), trading_rate_counter(), login=LOGIN, login_window=30.0)
    session.connection_made(0.0, 0)
    sent(session)
    assert session.next_deadline() == 30.0
    session.tick(29.9, 1)
    assert session.drop_reason is None
    session.tick(30.0, 2)
    assert session.drop_reason == "login not completed within 30 s of connecting"


def test_a_login_within_the_window_clears_the_deadline() -> None:
    session = AccountSession(InBandCodec(), trading_rate_counter(), login=LOGIN, login_window=30.0)
    session.connection_made(0.0, 0)
    session.receive(['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "OK"}'], 1.0, 1)
    assert session.next_deadline() == float("inf")
    session.tick(31.0, 2)
    assert session.drop_reason is None


def test_a_refused_lookup_proves_nothing_and_is_asked_again() -> None:
    session = ready_session()
    session.place(ORDER, 0.2)
    sent(session)
    session.connection_lost("gone", 0.3, 3)
    session.connection_made(0.4, 4)
    session.receive(
        ['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "OK"}', '{"type": "snapshot"}'], 0.5, 5
    )
    assert [f["type"] for f in sent(session)][-1] == "query"
    (error,) = session.receive(['{"type": "refused", "cid": "c1"}'], 0.6, 6)
    assert isinstance(error, ErrorEvent) and error.message == "order c1 lookup failed: rate limit exceeded"
    assert session.orders["c1"].state == "unknown" and session.state == "rebuilding"
    session.tick(0.6 + session.lookup_retry, 7)
    assert [f["type"] for f in sent(session)] == ["query"]


def test_a_refused_snapshot_replaces_the_socket() -> None:
    session = new_session()
    session.connection_made(0.0, 0)
    session.receive(['{"type": "challenge", "key": "K"}', '{"type": "login", "result": "OK"}'], 0.1, 1)
    (error,) = session.receive(['{"type": "snapfail", "result": "rate limit exceeded"}'], 0.2, 2)
    assert session.drop_reason == "the venue refused the orders snapshot (rate limit exceeded); reconnecting"
    assert isinstance(error, ErrorEvent) and error.message == session.drop_reason
    assert session.state == "rebuilding"
