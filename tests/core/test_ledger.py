"""The subscription ledger: its transition table, ack clocks and stale streams, without any I/O."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import sdk
from sdk.ledger import TRANSITIONS, SubscriptionLedger


def test_states_acknowledgements_and_every_symbol_books() -> None:
    ledger = SubscriptionLedger(ack_timeout=10, stale_after=60)
    trades, book, every = sdk.trades("BTC/USD"), sdk.book("ETH/USD"), sdk.book("*")
    assert ledger.add([trades, book, trades]) == [trades, book]
    assert ledger.add([trades]) == []
    assert ledger.state(trades) == ledger.state(book) == "pending"
    ledger.acknowledged(trades)
    assert ledger.refused(book) is True and book not in ledger
    assert (ledger.state(trades), ledger.state(book)) == ("active", "failed")
    assert ledger.book_subscription("ETH/USD", 10) is None
    ledger.add([every])
    assert ledger.book_subscription("LTC/USD", 10) == every
    assert ledger.book_subscription("LTC/USD", 25) is None
    assert ledger.remove([trades, sdk.quotes("BTC/USD")]) == [trades]
    assert ledger.state(trades) == "unsubscribed"
    assert list(ledger) == [every]
    ledger.acknowledged(trades)  # a late ack after the unsubscribe changes nothing
    assert ledger.state(trades) == "unsubscribed"


def test_ack_clocks_start_when_requests_leave_and_stop_with_the_connection() -> None:
    ledger = SubscriptionLedger(ack_timeout=1, stale_after=60)
    trades = sdk.trades("BTC/USD")
    ledger.add([trades])
    assert ledger.next_ack_deadline() is None  # recorded, not sent: nothing to wait for
    assert ledger.sent([trades], now=100.0) == 101.0
    assert ledger.overdue(100.5) == []
    assert ledger.overdue(101.0) == [trades]
    assert ledger.overdue(200.0) == []  # reported once
    assert ledger.state(trades) == "pending"  # and kept: a late ack may still come
    ledger.sent([trades], now=300.0)
    ledger.disconnected()
    assert ledger.overdue(1000.0) == []


def test_stale_streams_are_reported_once_per_silence() -> None:
    ledger = SubscriptionLedger(ack_timeout=1, stale_after=2)
    trades = sdk.trades("BTC/USD")
    ledger.add([trades])
    ledger.sent([trades], now=0.0)
    assert ledger.next_stale_check() == 2.0
    assert ledger.newly_stale(1.0) == []
    assert ledger.newly_stale(2.0) == [(trades, 2.0)]
    assert ledger.newly_stale(3.0) == []  # once
    ledger.last_data[("trades", "BTC/USD")] = 3.0  # data again
    assert ledger.newly_stale(3.5) == []
    assert ledger.newly_stale(5.0) == [(trades, 2.0)]  # quiet again: reported again


class LedgerMachine(RuleBasedStateMachine):
    """Any sequence of inputs moves every subscription only along the transition table."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = SubscriptionLedger(ack_timeout=1, stale_after=60)
        self.subscriptions = [sdk.trades("BTC/USD"), sdk.book("ETH/USD"), sdk.ticker("BTC/USD")]

    pick = st.integers(0, 2)

    def _check(self, index: int, transition: str, act: object) -> None:
        subscription = self.subscriptions[index]
        before = self.ledger.state(subscription)
        assert callable(act)
        act()
        after = self.ledger.state(subscription)
        allowed = TRANSITIONS.get((before, transition))  # type: ignore[arg-type]
        assert after == (allowed if allowed is not None else before)

    @rule(index=pick)
    def add(self, index: int) -> None:
        subscription = self.subscriptions[index]
        if subscription in self.ledger:  # asking again for an active subscription changes nothing
            before = self.ledger.state(subscription)
            assert self.ledger.add([subscription]) == []
            assert self.ledger.state(subscription) == before
        else:
            self._check(index, "requested", lambda: self.ledger.add([subscription]))

    @rule(index=pick)
    def acknowledge(self, index: int) -> None:
        subscription = self.subscriptions[index]
        if subscription in self.ledger:
            self._check(index, "acknowledged", lambda: self.ledger.acknowledged(subscription))

    @rule(index=pick)
    def refuse(self, index: int) -> None:
        self._check(index, "refused", lambda: self.ledger.refused(self.subscriptions[index]))

    @rule(index=pick)
    def cancel(self, index: int) -> None:
        subscription = self.subscriptions[index]
        if subscription in self.ledger:
            self._check(index, "cancelled", lambda: self.ledger.remove([subscription]))

    @rule()
    def reconnect(self) -> None:
        self.ledger.reconnected()
        assert all(self.ledger.state(s) == "pending" for s in self.ledger)

    @invariant()
    def active_ones_are_pending_or_active(self) -> None:
        assert all(self.ledger.state(s) in ("pending", "active") for s in self.ledger)
        gone = [s for s in self.subscriptions if s not in self.ledger and self.ledger.state(s) is not None]
        assert all(self.ledger.state(s) in ("failed", "unsubscribed") for s in gone)


TestLedgerMachine = LedgerMachine.TestCase
