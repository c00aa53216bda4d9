"""The feed session's rules, driven by hand with a fake clock: no sockets, no sleeps."""

from __future__ import annotations

import json

import pytest

import sdk
from schemas import (
    BookInvalidated,
    BookResynced,
    Disconnected,
    ErrorEvent,
    Event,
    EventsDropped,
    Reconnected,
    Subscribed,
    SubscriptionError,
    SubscriptionStale,
    Trade,
)
from sdk.session import NEVER, FeedSession, FeedSettings, Outgoing
from tests.core.toy import ToyCodec, toy_adapter

SETTINGS = FeedSettings(
    ack_timeout=1.0,
    stale_after=5.0,
    ping_interval=3.0,
    idle_timeout=2.0,
    resync_interval=0.5,
    reconnect=sdk.ReconnectPolicy(initial=1.0, cap=8.0, healthy_after=10.0, maintenance_floor=5.0),
)
NS = 1_000_000_000


def frame(**message: object) -> bytes:
    return json.dumps(message).encode()


def sent(session: FeedSession, now: float) -> list[dict[str, object]]:
    """Send everything queued at ``now``; the requests, decoded."""
    out = session.take_outgoing()
    for outgoing in out:
        session.sent(outgoing, now)
    return [json.loads(o.text) for o in out if o.text is not None]


def connected(now: float = 0.0, **options: object) -> FeedSession:
    session = FeedSession(toy_adapter(**options), SETTINGS, seed=7)  # type: ignore[arg-type]
    session.connection_made(now, int(now * NS))
    return session


def of(kind: type, events: list[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def test_a_subscription_made_offline_is_sent_on_connect_and_only_then_awaits_its_ack() -> None:
    session = FeedSession(toy_adapter(), SETTINGS)
    trades = sdk.trades("BTC/USD")
    session.subscribe([trades])
    assert session.take_outgoing() == [] and session.next_deadline() == NEVER
    assert session.tick(100.0, 0) == []  # no false "no acknowledgement" for a request never sent
    session.connection_made(200.0, 0)
    [request] = sent(session, 203.0)  # paced: it left three seconds after the connection opened
    assert request["subs"] == ["trades:BTC/USD"]
    assert session.state(trades) == "pending"
    assert session.tick(203.9, 0) == []
    [late] = session.tick(204.0, 4 * NS)
    assert isinstance(late, SubscriptionError) and late.message == "no acknowledgement within 1 s"
    assert late.subscription == trades and late.ts_received == 4 * NS
    assert not of(SubscriptionError, session.tick(300.0, 0))  # reported once
    [ack] = session.receive([frame(ack=request["id"])], 205.0, 5)  # late, but welcome
    assert isinstance(ack, Subscribed) and session.state(trades) == "active"


def test_an_acknowledged_subscription_never_times_out() -> None:
    session = connected()
    session.subscribe([sdk.trades("BTC/USD")])
    [request] = sent(session, 0.0)
    session.receive([frame(ack=request["id"])], 0.5, 1)
    assert not of(SubscriptionError, session.tick(10.0, 0))


def test_a_refused_subscription_is_forgotten_and_not_resent() -> None:
    session = connected()
    wanted, refused = sdk.trades("BTC/USD"), sdk.trades("NOPE/USD")
    session.subscribe([wanted])
    session.subscribe([refused])
    _, second = sent(session, 0.0)
    [error] = session.receive([frame(refuse=second["id"], why="unknown pair")], 0.1, 1)
    assert isinstance(error, SubscriptionError) and error.subscription == refused and error.message == "unknown pair"
    assert session.state(refused) == "failed" and session.subscriptions == [wanted]
    session.connection_lost("dropped", 1.0, 0)
    session.connection_made(2.0, 0)
    [again] = sent(session, 2.0)
    assert again["subs"] == ["trades:BTC/USD"]


def test_a_stream_that_stops_is_reported_stale_once_per_silence() -> None:
    session = connected()
    trades = sdk.trades("BTC/USD")
    session.subscribe([trades])
    [request] = sent(session, 0.0)
    session.receive([frame(ack=request["id"]), frame(trade="BTC/USD", price="1")], 1.0, 1)
    assert session.next_deadline() <= 6.0
    for now in (2.0, 3.0, 4.0, 5.0, 5.9):
        session.receive([frame(heartbeat=True)], now, 1)  # the connection lives, the stream does not
        assert not of(SubscriptionStale, session.tick(now, 0))
    session.receive([frame(heartbeat=True)], 6.0, 1)
    [stale] = of(SubscriptionStale, session.tick(6.0, 6 * NS))
    assert stale.subscription == trades and stale.silent_for == 5 * NS
    session.receive([frame(heartbeat=True)], 7.0, 1)
    assert not of(SubscriptionStale, session.tick(7.0, 0))
    session.receive([frame(trade="BTC/USD", price="1")], 8.0, 1)
    session.tick(8.0, 0)
    for now in (9.0, 10.0, 11.0, 12.0):
        session.receive([frame(heartbeat=True)], now, 1)
        session.tick(now, 0)
    session.receive([frame(heartbeat=True)], 13.0, 1)
    assert of(SubscriptionStale, session.tick(13.0, 0))  # quiet again: reported again


def test_every_stream_in_a_frame_is_alive_not_only_the_last() -> None:
    session = connected()
    session.subscribe([sdk.book("BTC/USD"), sdk.trades("BTC/USD")])
    sent(session, 0.0)
    session.receive([book("BTC/USD", [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 0.1, 0)
    for second in range(1, 12):
        both = json.dumps([json.loads(book("BTC/USD", [], [["2", "2"]], 2)), {"trade": "BTC/USD", "price": "1"}])
        session.receive([both.encode()], float(second), 0)
        assert not of(SubscriptionStale, session.tick(float(second), 0))


def test_a_quiet_connection_is_pinged_and_a_silent_one_dropped() -> None:
    session = connected()
    assert session.next_deadline() == pytest.approx(2 / 3)  # check a third of idle_timeout in
    session.tick(2 / 3, 0)
    [ping] = session.take_outgoing()
    assert ping == Outgoing('{"op":"ping"}', paced=False)
    assert session.drop_reason is None
    session.tick(1.0, 0)
    assert session.take_outgoing() == []  # not pinged again at once
    session.tick(2.0, 0)
    assert session.drop_reason == "nothing received for 2.0 s"


def test_a_busy_connection_is_still_pinged_every_ping_interval() -> None:
    session = connected()
    pings = 0
    now = 0.0
    while now < 9.0:
        now += 0.25
        session.receive([frame(heartbeat=True)], now, 0)
        if now >= session.next_deadline():
            session.tick(now, 0)
            pings += len(session.take_outgoing())
    assert pings == 3 and session.drop_reason is None


def test_the_codec_can_ask_for_a_new_connection() -> None:
    session = connected()
    assert session.receive([frame(bye="venue restarting")], 1.0, 0) == []
    assert session.drop_reason == "venue restarting"
    session.connection_lost("venue restarting", 1.0, 0)
    session.connection_made(2.0, 0)
    assert session.drop_reason is None


def test_a_frame_the_codec_raises_on_costs_only_itself() -> None:
    session = connected()
    error, trade = session.receive([b"{not json", frame(trade="BTC/USD", price="2.5")], 1.0, 7)
    assert isinstance(error, ErrorEvent) and error.raw == "{not json" and error.exchange == "toy"
    assert error.message.startswith("undecodable frame: JSONDecodeError")
    assert isinstance(trade, Trade) and str(trade.price) == "2.5"
    assert session.stats.errors == 1 and session.stats.frames == 2


def book(symbol: str, bids: list[list[str]], asks: list[list[str]], checksum: int, *, snapshot: bool = False) -> bytes:
    return frame(book=symbol, snapshot=snapshot, bids=bids, asks=asks, checksum=checksum)


def test_invalid_books_are_resynced_one_at_a_time_paced() -> None:
    session = connected()
    session.subscribe([sdk.book("BTC/USD"), sdk.book("ETH/USD")])
    sent(session, 0.0)
    for symbol in ("BTC/USD", "ETH/USD"):
        session.receive([book(symbol, [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 0.1, 0)
    assert session.orderbook("BTC/USD").valid
    events = session.receive([book("BTC/USD", [["1.5", "1"]], [], 99), book("ETH/USD", [["1.5", "1"]], [], 99)], 1.0, 0)
    assert [e.symbol for e in of(BookInvalidated, events)] == ["BTC/USD", "ETH/USD"]
    assert not session.orderbook("BTC/USD").valid
    assert session.deadline_moved and session.next_deadline() <= 1.0
    session.tick(1.0, 0)
    unsubscribe, subscribe = sent(session, 1.0)
    assert (unsubscribe["op"], subscribe["op"], subscribe["subs"]) == ("unsubscribe", "subscribe", ["book:BTC/USD"])
    session.tick(1.2, 0)
    assert session.take_outgoing() == []  # paced: resync_interval between resyncs
    assert session.next_deadline() <= 1.5
    session.tick(1.5, 0)
    assert [r["subs"] for r in sent(session, 1.5)] == [["book:ETH/USD"], ["book:ETH/USD"]]
    _, resynced = session.receive([book("BTC/USD", [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 1.6, 0)
    assert isinstance(resynced, BookResynced) and session.orderbook("BTC/USD").valid
    assert session.book_stats.failures == 2 and session.book_stats.resyncs == 1


@pytest.mark.parametrize(("tolerated", "invalid"), [(False, True), (True, False)])
def test_a_crossed_book_is_an_error_unless_the_venue_documents_it(tolerated: bool, invalid: bool) -> None:
    session = connected(tolerates_crossed_books=tolerated)
    session.subscribe([sdk.book("BTC/USD")])
    sent(session, 0.0)
    session.receive([book("BTC/USD", [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 0.1, 0)
    events = session.receive([book("BTC/USD", [["3", "1"]], [], 3)], 0.2, 0)  # best bid 3 above best ask 2
    assert bool(of(BookInvalidated, events)) is invalid
    assert session.orderbook("BTC/USD").valid is not invalid


def test_an_orderbook_view_exists_from_the_subscription_on() -> None:
    session = connected()
    with pytest.raises(KeyError):
        session.orderbook("BTC/USD")
    session.subscribe([sdk.book("BTC/USD")])
    view = session.orderbook("BTC/USD")
    assert not view.valid and view.bids() == [] and view.best_bid is None and view.mid is None
    session.receive([book("BTC/USD", [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 0.1, 0)
    assert view.valid and str(view.mid) == "1.5"


def test_lost_events_invalidate_their_books_and_are_announced() -> None:
    session = connected()
    session.subscribe([sdk.book("BTC/USD")])
    sent(session, 0.0)
    events = session.receive([book("BTC/USD", [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 0.1, 0)
    dropped, invalidated = session.events_dropped(events, 0.2, 5)
    assert isinstance(dropped, EventsDropped) and dropped.count == dropped.total == 1
    assert isinstance(invalidated, BookInvalidated) and invalidated.reason == "dropped"
    session.tick(0.2, 0)
    assert [r["op"] for r in sent(session, 0.2)] == ["unsubscribe", "subscribe"]


def test_a_disconnect_suspends_books_and_the_reconnect_resubscribes_everything() -> None:
    session = connected()
    session.subscribe([sdk.book("BTC/USD"), sdk.trades("BTC/USD")])
    [request] = sent(session, 0.0)
    session.receive([frame(ack=request["id"]), book("BTC/USD", [["1", "1"]], [["2", "1"]], 2, snapshot=True)], 0.1, 0)
    [lost] = session.connection_lost("connection closed (1006)", 1.0, 10)
    assert isinstance(lost, Disconnected) and not lost.final and lost.reason == "connection closed (1006)"
    assert not session.orderbook("BTC/USD").valid and session.take_outgoing() == []
    assert session.tick(50.0, 0) == []  # nothing awaits an ack while offline
    delay = session.reconnect_delay()
    assert delay is not None and 0 <= delay <= 1.0
    [back] = session.connection_made(3.0, 30)
    assert isinstance(back, Reconnected) and back.attempt == 1 and back.downtime == 2 * NS
    [again] = sent(session, 3.0)
    assert again["subs"] == ["book:BTC/USD", "trades:BTC/USD"]
    assert session.state(sdk.trades("BTC/USD")) == "pending"
    assert session.stats.disconnects == session.stats.reconnects == 1


def test_the_next_codec_resumes_from_the_last() -> None:
    session = connected()
    first = session.codec
    session.connection_lost("gone", 1.0, 0)
    session.connection_made(2.0, 0)
    assert isinstance(session.codec, ToyCodec) and session.codec.resumed_from is first


def outage(session: FeedSession, up_for: float, now: float) -> float:
    """Keep the connection up for ``up_for`` seconds, lose it, reconnect; returns the new time."""
    now += up_for
    session.connection_lost("gone", now, 0)
    delay = session.reconnect_delay()
    assert delay is not None
    now += delay
    session.connection_made(now, 0)
    return now


def test_the_backoff_grows_while_connections_die_young_and_starts_over_after_a_healthy_one() -> None:
    session = connected()
    now = 0.0
    for expected in range(1, 6):
        now = outage(session, 1.0, now)  # each connection lives 1 s: never healthy
        assert session.backoff_attempts == expected
    now = outage(session, 10.0, now)  # this one stayed up healthy_after
    assert session.backoff_attempts == 1


def test_backoff_delays_stay_within_the_capped_exponential_bound() -> None:
    session = connected()
    session.connection_lost("gone", 1.0, 0)
    for attempt in range(1, 12):
        delay = session.reconnect_delay()
        assert delay is not None and 0 <= delay <= min(8.0, 2 ** (attempt - 1))


def test_the_maintenance_floor_holds_for_the_outage_it_announced_and_ends_with_the_next_connection() -> None:
    session = connected()
    session.receive([frame(status="maintenance")], 1.0, 0)
    session.connection_lost("gone", 2.0, 0)
    assert all((session.reconnect_delay() or 0) >= 5.0 for _ in range(3))
    session.connection_made(20.0, 0)
    session.connection_lost("gone again", 21.0, 0)
    delays = [session.reconnect_delay() for _ in range(3)]
    assert all(d is not None and d < 5.0 for d in delays)


def test_a_limited_policy_gives_up_with_a_final_disconnect() -> None:
    settings = FeedSettings(reconnect=sdk.ReconnectPolicy(max_attempts=2))
    session = FeedSession(toy_adapter(), settings)
    session.connection_made(0.0, 0)
    session.connection_lost("gone", 1.0, 0)
    assert session.reconnect_delay() is not None and session.reconnect_delay() is not None
    assert session.reconnect_delay() is None
    final = session.gave_up(9)
    assert final.final and final.reason == "gave up after 2 reconnect attempts"


def test_unsubscribe_while_connected_sends_and_offline_only_forgets() -> None:
    session = connected()
    trades = sdk.trades("BTC/USD")
    session.subscribe([trades])
    sent(session, 0.0)
    session.unsubscribe([trades])
    [request] = sent(session, 0.1)
    assert request["op"] == "unsubscribe" and session.state(trades) == "unsubscribed"
    session.subscribe([trades])
    sent(session, 0.2)
    session.connection_lost("gone", 1.0, 0)
    session.unsubscribe([trades])
    assert session.take_outgoing() == [] and session.subscriptions == []


def test_an_unsupported_request_records_nothing() -> None:
    session = connected()
    with pytest.raises(sdk.UnsupportedSubscription):
        session.subscribe([sdk.trades("BTC/USD"), sdk.ticker("BTC/USD")])
    assert session.subscriptions == [] and session.take_outgoing() == []
