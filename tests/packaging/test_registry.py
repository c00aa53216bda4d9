"""Adapters are found by name, including ones another installed package declares."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import adapters
import sdk
from schemas import ErrorEvent
from sdk import registry


def test_built_in_adapter() -> None:
    adapter = registry.get("kraken-v1")
    assert adapter.name == "kraken-v1"
    assert adapter.default_url == "wss://ws.kraken.com"
    assert {"kraken", "kraken-v1", "midchains"} <= set(registry.names())
    assert registry.get("kraken").default_url == "wss://ws.kraken.com/v2"


def test_unknown_adapter_names_the_available_ones() -> None:
    with pytest.raises(LookupError, match=r"available: .*kraken-v1"):
        registry.get("nope")


def test_the_old_registry_functions_warn_and_forward() -> None:
    with pytest.warns(DeprecationWarning, match=r"sdk\.registry\.get"):
        assert adapters.get("midchains") is registry.get("midchains")
    with pytest.warns(DeprecationWarning, match=r"sdk\.registry\.names"):
        assert adapters.names() == registry.names()


EXTRA_MODULE = """
from sdk.contract import Adapter, Codec
from sdk.capabilities import Capabilities
from sdk.symbols import AliasedSymbols


class EchoCodec(Codec):
    def subscribe(self, subscriptions):
        return [repr(s) for s in subscriptions]

    def unsubscribe(self, subscriptions):
        return []

    def decode_frame(self, frame, received_ns):
        return [self.error("echo", frame, received_ns)]


adapter = Adapter(
    name="echo",
    default_url="wss://echo.invalid",
    capabilities=Capabilities(channels=frozenset({"trades"})),
    symbols=AliasedSymbols({}),
    codec=EchoCodec,
)
"""


def test_installed_package_adds_an_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution on sys.path declaring the ``xfeeds.adapters`` entry point is picked up."""
    (tmp_path / "xfeeds_echo.py").write_text(EXTRA_MODULE)
    dist = tmp_path / "xfeeds_echo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xfeeds-echo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xfeeds.adapters]\necho = xfeeds_echo:adapter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    try:
        assert "echo" in registry.names()
        adapter = registry.get("echo")
        [event] = adapter.new_codec().decode_frame("hello", 1)
        assert isinstance(event, ErrorEvent) and event.raw == "hello" and event.exchange == "echo"
        assert sdk.connect("echo").adapter is adapter
    finally:
        registry.refresh()
        sys.modules.pop("xfeeds_echo", None)


THROWAWAY_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "xfeeds-throwaway"
version = "0.0.1"

[project.entry-points."xfeeds.adapters"]
throwaway = "xfeeds_throwaway:adapter"

[tool.hatch.build.targets.wheel]
packages = ["xfeeds_throwaway"]
"""

THROWAWAY_MODULE = """
from adapters.kraken_v1 import adapter as kraken_v1
from dataclasses import replace

adapter = replace(kraken_v1, name="throwaway")
"""


@pytest.mark.loopback
def test_pip_installed_package_adapter_is_used_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real ``pip install`` of a tiny package declaring the entry point; then stream through it."""
    import subprocess

    import anyio

    from schemas import Trade
    from sdk.testing import collect_until, of

    source = tmp_path / "source"
    (source / "xfeeds_throwaway").mkdir(parents=True)
    (source / "pyproject.toml").write_text(THROWAWAY_PYPROJECT)
    (source / "xfeeds_throwaway" / "__init__.py").write_text(THROWAWAY_MODULE)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(target))
    registry.refresh()
    try:
        assert "throwaway" in registry.names()
        adapter = registry.get("throwaway")

        async def stream() -> Trade:
            async with (
                adapter.make_simulator(tick_interval=0.005) as simulator,
                sdk.connect("throwaway", simulator.url) as feed,
            ):
                await feed.subscribe(sdk.trades("BTC/USD"))
                [trade] = of(Trade, await collect_until(feed, lambda es: bool(of(Trade, es))))
                return trade

        trade = anyio.run(stream)
        assert trade.symbol == "BTC/USD"
        assert trade.exchange == "throwaway"  # the renamed adapter labels its events with its name
    finally:
        registry.refresh()
        sys.modules.pop("xfeeds_throwaway", None)
