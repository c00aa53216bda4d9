"""``xfeeds account`` run in-process against the Kraken v2 simulator: showing the account, placing
and cancelling after the question on stdin, and the refusals that send nothing."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given

from adapters.kraken.simulator import DEFAULT_TEST_KEY, DEFAULT_TEST_SECRET, KrakenSimulator
from schemas.trading import AccountReady, Balance, OrderRequest, OrderUpdate, TradingEvent
from sdk.cli import main
from sdk.render import TIME_IN_FORCE_WORDS, describe, describe_order
from sdk.testing import order_requests, trading_events

RESTING = ["buy", "0.01", "BTC/USD", "--price", "1000"]
"""A limit order far below the simulated market: it rests, and costs 10 USD of the test balance."""


@dataclass
class Venue:
    """A simulator served from a background event loop, so ``main`` can run its own loop beside it."""

    simulator: KrakenSimulator
    portal: BlockingPortal

    @property
    def endpoints(self) -> list[str]:
        return ["--url", self.simulator.auth_url, "--rest-url", self.simulator.rest_url]

    def call(self, function: Any, *args: Any) -> Any:
        return self.portal.call(function, *args)


@pytest.fixture
def venue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Venue]:
    """A Kraken simulator on loopback, and its test account's credentials in the environment."""
    monkeypatch.setenv("XFEEDS_KRAKEN_KEY", DEFAULT_TEST_KEY)
    monkeypatch.setenv("XFEEDS_KRAKEN_SECRET", DEFAULT_TEST_SECRET)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(KrakenSimulator(tick_interval=0.01)) as simulator,
    ):
        yield Venue(simulator, portal)


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


@pytest.mark.loopback
def test_show_prints_the_balances_then_streams(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", "kraken", "--simulate", "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "balance   USD    100000 in spot:main" in out and "balance   BTC    10\n" in out
    assert "# 0 open orders" in out and "ready     account state current, 0 open orders" in out


@pytest.mark.loopback
def test_show_json_lines_decode_as_trading_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", "kraken", "--simulate", "--seconds", "0.5", "--json"]) == 0
    events = [msgspec.json.decode(line, type=TradingEvent) for line in capsys.readouterr().out.splitlines()]
    balances = [e for e in events if isinstance(e, Balance)]
    assert {(b.asset, b.wallet) for b in balances} >= {("USD", None), ("USD", "spot:main"), ("BTC", None)}
    assert all(b.total != 0 for b in balances)
    assert any(isinstance(e, AccountReady) for e in events) and all(e.exchange == "kraken" for e in events)


@pytest.mark.loopback
def test_place_answered_yes_sends_and_prints_the_settling_update(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "y\n")
    assert main(["account", "kraken", "place", *RESTING, "--client-id", "mine", "--simulate"]) == 0
    out = capsys.readouterr().out
    assert "order: buy 0.01 BTC/USD, limit at 1000, good till cancelled, client id mine" in out
    assert "Send this order to kraken at ws://127.0.0.1:" in out and "? [y/N] y" in out
    (update,) = [line for line in out.splitlines() if "BTC/USD   order " in line]
    assert ("pending_new" in update or " new " in update) and "client id mine" in update
    assert "venue id O" in update


@pytest.mark.loopback
@pytest.mark.parametrize("reply", ["n\n", "\n", "", "sure\n"])
def test_place_not_answered_yes_sends_nothing(
    venue: Venue, reply: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, reply)
    assert main(["account", "kraken", "place", *RESTING, "--client-id", "declined", *venue.endpoints]) == 1
    assert "nothing sent" in capsys.readouterr().out
    assert venue.call(venue.simulator.orders_received, "declined") == 0


@pytest.mark.loopback
def test_place_answered_yes_reaches_the_venue_once(venue: Venue, monkeypatch: pytest.MonkeyPatch) -> None:
    answer(monkeypatch, "yes\n")
    assert main(["account", "kraken", *venue.endpoints, "place", *RESTING, "--client-id", "sent"]) == 0
    assert venue.call(venue.simulator.orders_received, "sent") == 1


@pytest.mark.loopback
def test_a_rejected_order_prints_the_venues_reason_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    too_big = ["buy", "1000", "BTC/USD", "--price", "1000"]  # 1M USD: beyond the test balance
    assert main(["account", "kraken", "place", *too_big, "--simulate", "--yes"]) == 1
    out = capsys.readouterr().out
    assert "Send this order" not in out and "rejected" in out and "(EOrder:Insufficient funds)" in out


@pytest.mark.loopback
def test_validate_only_is_accepted_and_places_nothing(venue: Venue, capsys: pytest.CaptureFixture[str]) -> None:
    validate = ["place", *RESTING, "--validate", "--client-id", "checked", "--yes"]
    assert main(["account", "kraken", *validate, *venue.endpoints]) == 0
    assert "validate only" in capsys.readouterr().out
    assert venue.call(venue.simulator.engine.open_orders, DEFAULT_TEST_KEY) == []


@pytest.mark.parametrize(
    ("order", "rule"),
    [
        (["buy", "0.01", "BTC/USD", "--type", "limit"], "limit_needs_price"),
        (["buy", "0.01", "BTC/USD", "--price", "1000", "--post-only", "--tif", "ioc"], "post_only_rests"),
        (["buy", "-1", "BTC/USD"], "positive_numbers"),
    ],
)
def test_a_contradictory_order_is_refused_before_connecting(
    order: list[str], rule: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XFEEDS_KRAKEN_KEY", raising=False)
    assert main(["account", "kraken", "place", *order, "--yes"]) == 2
    assert f"xfeeds: {rule}: " in capsys.readouterr().err


@pytest.mark.loopback
def test_an_order_off_the_instruments_grid_is_refused_before_the_question(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["account", "kraken", "place", "buy", "0.000000001", "BTC/USD", "--price", "1000", "--simulate"]) == 2
    captured = capsys.readouterr()
    assert "xfeeds: qty_precision: BTC/USD: " in captured.err and "Send this order" not in captured.out


@pytest.mark.loopback
def test_cancel_of_an_unknown_order_prints_the_venues_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", "kraken", "cancel", "ONOPE0-XXXXX-XXXXXX", "--simulate", "--yes"]) == 1
    captured = capsys.readouterr()
    assert "ONOPE0-XXXXX-XXXXXX: not among the open orders" in captured.out
    assert "EOrder:Unknown order" in captured.err


@pytest.mark.loopback
def test_cancel_and_cancel_all_ask_first(
    venue: Venue, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for client_id in ("one", "two", "three"):
        assert main(["account", "kraken", "place", *RESTING, "--client-id", client_id, "--yes", *venue.endpoints]) == 0
    open_orders = venue.call(venue.simulator.engine.open_orders, DEFAULT_TEST_KEY)
    first = open_orders[0].venue_id
    capsys.readouterr()

    answer(monkeypatch, "n\n")
    assert main(["account", "kraken", *venue.endpoints, "cancel", first]) == 1
    assert len(venue.call(venue.simulator.engine.open_orders, DEFAULT_TEST_KEY)) == 3
    answer(monkeypatch, "y\n")
    assert main(["account", "kraken", *venue.endpoints, "cancel", first]) == 0
    out = capsys.readouterr().out
    assert (
        f"{first}: " in out and " new " in out and f"Cancel 1 order(s) on kraken at {venue.simulator.auth_url}?" in out
    )
    assert f"kraken accepted the cancel of {first}" in out

    answer(monkeypatch, "n\n")
    assert main(["account", "kraken", *venue.endpoints, "cancel-all"]) == 1
    answer(monkeypatch, "y\n")
    assert main(["account", "kraken", *venue.endpoints, "cancel-all"]) == 0
    out = capsys.readouterr().out
    assert "Cancel all 2 open orders on kraken" in out and "kraken cancelled 2 orders" in out
    assert venue.call(venue.simulator.engine.open_orders, DEFAULT_TEST_KEY) == []


@pytest.mark.loopback
def test_nothing_shown_holds_the_key_the_secret_or_a_token(
    venue: Venue, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "y\n")
    assert main(["account", "kraken", "place", *RESTING, *venue.endpoints]) == 0
    assert main(["account", "kraken", "--seconds", "0.3", *venue.endpoints]) == 0
    assert main(["account", "kraken", "--seconds", "0.3", "--json", *venue.endpoints]) == 0
    captured = capsys.readouterr()
    tokens = venue.call(lambda: list(venue.simulator.desk.rest.issued))
    assert len(tokens) == 3
    for secret in [DEFAULT_TEST_KEY, DEFAULT_TEST_SECRET, *tokens]:
        assert secret not in captured.out and secret not in captured.err


def test_missing_credentials_exit_2_naming_the_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XFEEDS_KRAKEN_KEY", "present")
    monkeypatch.delenv("XFEEDS_KRAKEN_SECRET", raising=False)
    assert main(["account", "kraken", "cancel-all", "--yes"]) == 2
    assert capsys.readouterr().err == (
        "xfeeds: API credentials not found: set XFEEDS_KRAKEN_SECRET in the environment\n"
    )
    monkeypatch.delenv("XFEEDS_KRAKEN_KEY")
    assert main(["account", "kraken"]) == 2
    assert "set XFEEDS_KRAKEN_KEY and XFEEDS_KRAKEN_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("exchange", ["kraken-v1"])
def test_an_exchange_without_trading_says_so(exchange: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account", exchange, "--simulate"]) == 2
    assert capsys.readouterr().err == f"xfeeds: {exchange} does not trade (market data only)\n"


@given(trading_events())
def test_every_trading_event_reads_as_a_line_naming_its_exchange(event: TradingEvent) -> None:
    assert event.exchange in describe(event)


@given(order_requests())
def test_every_order_request_reads_in_words(order: OrderRequest) -> None:
    words = describe_order(order)
    assert words.startswith(f"{order.side} ") and order.symbol in words
    assert TIME_IN_FORCE_WORDS[order.time_in_force] in words
    assert words.endswith("places nothing)") == order.validate_only


def test_an_update_names_its_state_ids_and_reason() -> None:
    update = OrderUpdate(
        exchange="kraken",
        ts_received=0,
        symbol="BTC/USD",
        side="sell",
        state="rejected",
        client_order_id="c1",
        order_type="limit",
        qty=Decimal("0.5"),
        price=Decimal("64000.1"),
        filled_qty=Decimal(0),
        reason="EOrder:Insufficient funds",
    )
    line = describe(update)
    assert "BTC/USD   order     rejected         sell limit 0.5 @ 64000.1 filled 0 venue id - client id c1" in line
    assert line.endswith(" (EOrder:Insufficient funds)")


@pytest.mark.loopback
def test_ctrl_c_at_the_question_exits_at_once() -> None:
    """The answer is awaited while the account stays served; Ctrl-C must not wait for a line."""
    command = [sys.executable, "-m", "sdk.cli", "account", "kraken", "place", *RESTING, "--simulate"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        watchdog = threading.Timer(20, process.kill)
        watchdog.start()
        try:
            shown = b""
            while not shown.endswith(b"[y/N] ") and process.poll() is None:
                shown += process.stdout.read(1) if process.stdout else b""
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 130
        finally:
            watchdog.cancel()
    assert b"Send this order to kraken" in shown
