"""The ``xfeeds`` command, run as users run it."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

from schemas import BookSnapshot, Event, Status, Subscribed


def xfeeds(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sdk.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.loopback
def test_watch_simulated_json_lines() -> None:
    result = xfeeds("watch", "kraken-v1", "book", "BTC/USD", "ETH/USD", "--simulate", "--json", "--count", "6")
    assert result.returncode == 0, result.stderr
    events = [msgspec.json.decode(line, type=Event) for line in result.stdout.splitlines()]
    assert len(events) == 6
    assert isinstance(events[0], Status)
    assert {e.symbol for e in events if isinstance(e, Subscribed)} == {"BTC/USD", "ETH/USD"}
    assert any(isinstance(e, BookSnapshot) for e in events)


@pytest.mark.loopback
def test_watch_readable_lines() -> None:
    result = xfeeds("watch", "kraken-v1", "trades", "BTC/USD", "--simulate", "--count", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "subscribed trades:BTC/USD" in lines[1]


def test_watch_refuses_unsupported_request_up_front() -> None:
    result = xfeeds("watch", "kraken-v1", "book", "BTC/USD", "--depth", "7", "--simulate")
    assert result.returncode == 2
    assert "depths are 10, 25, 100, 500, 1000" in result.stderr


@pytest.mark.loopback
@pytest.mark.parametrize("exchange", ["kraken", "kraken-v1", "midchains"])
def test_demo_shows_events_a_refusal_and_a_reconnect(exchange: str) -> None:
    result = xfeeds("demo", "--exchange", exchange, "--seconds", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "subscribed book:BTC/USD@10",
        "REFUSED",
        "DISCONNECTED",
        "reconnected",
        " trade ",
        " quote ",
    ):
        assert expected in out, expected


def test_adapters_listing() -> None:
    result = xfeeds("adapters")
    assert "kraken-v1" in result.stdout and "book depths: 10, 25, 100, 500, 1000" in result.stdout
    assert "wss://ws.kraken.com/v2" in result.stdout


@pytest.mark.loopback
def test_watch_v2_simulated() -> None:
    result = xfeeds("watch", "kraken", "quotes", "BTC/USD", "--simulate", "--json", "--count", "4")
    assert result.returncode == 0, result.stderr
    events = [msgspec.json.decode(line, type=Event) for line in result.stdout.splitlines()]
    assert [type(e).__name__ for e in events[:2]] == ["Status", "Subscribed"]
    assert all(e.exchange == "kraken" for e in events)


@pytest.mark.parametrize(("flags", "title"), [((), "xfeeds Event"), (("--trading",), "xfeeds TradingEvent")])
def test_schema_prints_the_market_or_the_trading_schema(flags: tuple[str, ...], title: str) -> None:
    result = xfeeds("schema", *flags)
    assert result.returncode == 0, result.stderr
    assert msgspec.json.decode(result.stdout)["title"] == title
