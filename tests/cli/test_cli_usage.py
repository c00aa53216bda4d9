"""The command line as a new user meets it: every mistake answered in one line and a non-zero
exit (never a traceback), options that explain themselves, and output that reads on its own."""

from __future__ import annotations

import argparse
import subprocess
import sys
from decimal import Decimal

import msgspec
import pytest

from schemas import BookLevel, BookUpdate, Event, Instrument
from sdk.cli import _parser
from sdk.render import describe
from tests.cli.test_cli import xfeeds


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str, code: int = 2) -> None:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--url", "http://example.com/ws"), "is not a ws:// or wss:// URL"),
        (("--url", "ws.kraken.com/v2"), "is not a ws:// or wss:// URL"),
        (("--count", "-1", "--simulate"), "argument --count: expected a positive whole number, got '-1'"),
        (("--count", "ten", "--simulate"), "argument --count: expected a positive whole number"),
        (("--seconds", "-2", "--simulate"), "argument --seconds: expected a positive number of seconds"),
        (("--seconds", "nan", "--simulate"), "argument --seconds: expected a positive number of seconds"),
        (("--depth", "0", "--simulate"), "argument --depth: expected a positive whole number"),
        (("--url", "wss://ws.kraken.com/v2", "--simulate"), "not allowed with argument --url"),
        (("--json", "--live", "--simulate"), "not allowed with argument --json"),
        (("--interval", "5m", "--simulate"), "--interval applies to the candles channel, not book"),
        (("ETH/USD", "--live", "--simulate"), "--live shows one book: name one SYMBOL"),
    ],
)
def test_bad_watch_arguments_get_one_line(args: tuple[str, ...], expected: str) -> None:
    assert_one_line_error(xfeeds("watch", "kraken", "book", "BTC/USD", *args), expected)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("trades", "BTC/USD", "--depth", "25"), "--depth applies to the book channel, not trades"),
        (("trades", "BTC/USD", "--live"), "--live shows a book: use it with the book channel, not trades"),
        (("trades",), "trades needs at least one SYMBOL"),
        (("instruments", "BTC/USD"), "instruments takes no SYMBOL"),
        (("trades", "BTCUSD"), "symbol 'BTCUSD' is not in BASE/QUOTE form"),
        (("nope", "BTC/USD"), "argument CHANNEL: invalid choice: 'nope'"),
    ],
)
def test_options_that_do_not_apply_to_the_channel(args: tuple[str, ...], expected: str) -> None:
    assert_one_line_error(xfeeds("watch", "kraken", *args, "--simulate"), expected)


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "kraken", "--port", "-5"),
        ("simulate", "kraken", "--tick", "0"),
        ("demo", "--seconds", "-1"),
        ("account", "kraken", "--url", "kraken.com"),
        ("account", "kraken", "--rest-url", "ftp://x"),
        ("account", "kraken", "--simulate", "--url", "wss://example.com"),
        ("watch", "nope", "trades", "BTC/USD"),
        ("frobnicate",),
    ],
)
def test_every_command_refuses_bad_arguments_in_one_line(args: tuple[str, ...]) -> None:
    assert_one_line_error(xfeeds(*args))


@pytest.mark.loopback
def test_a_refused_connection_names_the_url_and_the_cause() -> None:
    result = xfeeds("watch", "kraken", "trades", "BTC/USD", "--url", "ws://127.0.0.1:1")
    assert_one_line_error(result, "could not connect to ws://127.0.0.1:1: connection refused")


@pytest.mark.loopback
def test_the_plaintext_guard_and_its_option() -> None:
    # 0.0.0.0 reaches this machine without being a loopback address: the guard applies, and no packet leaves
    guarded = xfeeds("watch", "kraken", "trades", "BTC/USD", "--url", "ws://0.0.0.0:1")
    assert_one_line_error(guarded, "refusing unencrypted ws://0.0.0.0:1: use wss://, or pass --allow-plaintext")
    allowed = xfeeds("watch", "kraken", "trades", "BTC/USD", "--url", "ws://0.0.0.0:1", "--allow-plaintext")
    assert_one_line_error(allowed, "could not connect to ws://0.0.0.0:1")


@pytest.mark.loopback
def test_watch_exits_non_zero_once_every_subscription_is_refused() -> None:
    result = xfeeds("watch", "kraken", "trades", "NOPE/USD", "ZZZ/USD", "--simulate", "--seconds", "30", timeout=30)
    assert result.returncode == 1, result
    assert result.stdout.count("REFUSED") == 2
    assert result.stderr == "xfeeds: kraken refused every subscription\n"


@pytest.mark.loopback
def test_watch_goes_on_while_one_subscription_streams() -> None:
    result = xfeeds("watch", "kraken", "trades", "NOPE/USD", "BTC/USD", "--simulate", "--count", "4")
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout


@pytest.mark.loopback
def test_instruments_are_watchable_where_served() -> None:
    result = xfeeds("watch", "kraken", "instruments", "--simulate", "--json", "--count", "4")
    assert result.returncode == 0, result.stderr
    events = [msgspec.json.decode(line, type=Event) for line in result.stdout.splitlines()]
    assert any(isinstance(event, Instrument) and event.symbol == "BTC/USD" for event in events)
    unserved = xfeeds("watch", "midchains", "instruments", "--simulate")
    assert_one_line_error(unserved, "midchains has no 'instruments' channel; it serves book, quotes, trades")


def test_version() -> None:
    result = xfeeds("--version")
    assert result.returncode == 0 and result.stdout.startswith("xfeeds ")


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser and every command's and action's parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _commands(sub)
    return found


def test_every_option_has_help_naming_its_default() -> None:
    for command in _commands(_parser()):
        for action in command._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{command.prog} {action.dest} has no help"
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                assert str(action.default) in action.help or f"{action.default:g}" in action.help, (
                    f"{command.prog} {action.option_strings[0]} does not name its default {action.default}"
                )


@pytest.mark.loopback
def test_the_simulator_logs_connects_and_subscriptions() -> None:
    served = subprocess.Popen(
        [sys.executable, "-m", "sdk.cli", "simulate", "kraken", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert served.stdout is not None
        url = served.stdout.readline().split(" listening on ")[1].split()[0]
        watched = xfeeds("watch", "kraken", "trades", "BTC/USD", "--url", url, "--count", "3")
        assert watched.returncode == 0, watched.stderr
    finally:
        served.terminate()
        log, _ = served.communicate(timeout=30)
    assert "connection 1 from 127.0.0.1:" in log
    assert 'connection 1 sent {"method":"subscribe"' in log and '"channel":"trade"' in log
    assert "connection 1 closed" in log


def _update(bids: tuple[BookLevel, ...], asks: tuple[BookLevel, ...]) -> BookUpdate:
    return BookUpdate(exchange="kraken", symbol="BTC/USD", ts_received=0, depth=10, bids=bids, asks=asks)


def test_book_updates_read_on_their_own() -> None:
    removed = BookLevel(price=Decimal("29999.5"), qty=Decimal(0))
    changed = BookLevel(price=Decimal("29999.4"), qty=Decimal("1.25"))
    line = describe(_update((removed, changed), ()))
    assert line.endswith("book      bids 29999.5 removed, 1.25@29999.4")
    assert "asks" not in line
    assert describe(_update((), (changed,))).endswith("book      asks 1.25@29999.4")
    assert describe(_update((), ())).endswith("book      no level changed")


@pytest.mark.loopback
def test_symbols_may_follow_the_options() -> None:
    result = xfeeds("watch", "kraken", "book", "--depth", "10", "BTC/USD", "--simulate", "--count", "2")
    assert result.returncode == 0, result.stderr
    assert "book:BTC/USD@10" in result.stdout
    stray = xfeeds("watch", "kraken", "trades", "BTC/USD", "--count", "2", "--bogus")
    assert (
        stray.returncode == 2 and stray.stderr.strip() == "xfeeds: unrecognized arguments: --bogus (see xfeeds --help)"
    )
