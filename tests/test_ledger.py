"""The feed's subscription bookkeeping, without any I/O."""

from __future__ import annotations

import sdk
from sdk.ledger import SubscriptionLedger


def test_states_acknowledgements_and_every_symbol_books() -> None:
    ledger = SubscriptionLedger(ack_timeout=10, stale_after=60)
    trades, book, every = sdk.trades("BTC/USD"), sdk.book("ETH/USD"), sdk.book("*")
    assert ledger.add([trades, book, trades]) == [trades, book]
    assert ledger.add([trades]) == []
    ledger.expect_acks(ledger, now=0.0, now_ns=0)
    assert ledger.state(trades) == ledger.state(book) == "pending"
    ledger.acknowledged(trades)
    ledger.refused(book)
    assert (ledger.state(trades), ledger.state(book)) == ("active", "failed")
    assert ledger.forget(book) is True and book not in ledger
    assert ledger.book_subscription("ETH/USD") is None
    ledger.add([every])
    assert ledger.book_subscription("LTC/USD") == every
    assert ledger.remove([trades, sdk.quotes("BTC/USD")]) == [trades]
    assert ledger.state(trades) == "unsubscribed"
    assert list(ledger) == [every]


def test_overdue_and_stale_are_reported_once() -> None:
    ledger = SubscriptionLedger(ack_timeout=1, stale_after=2)
    trades = sdk.trades("BTC/USD")
    ledger.add([trades])
    ledger.expect_acks([trades], now=100.0, now_ns=0)
    assert ledger.overdue(100.5) == []
    assert ledger.overdue(101.0) == [trades]
    assert ledger.overdue(200.0) == []  # once
    assert ledger.newly_stale(1_000_000_000) == []
    assert ledger.newly_stale(2_000_000_000) == [(trades, 2_000_000_000)]
    assert ledger.newly_stale(3_000_000_000) == []  # once
    ledger.last_data["BTC/USD"] = 3_000_000_000  # data again
    assert ledger.newly_stale(3_500_000_000) == []
    assert ledger.newly_stale(5_000_000_000) == [(trades, 2_000_000_000)]  # quiet again: reported again
