"""Shared test helpers: the captured Kraken fixtures, the async backends and transports to run on, a fast
reconnect policy."""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Unpack

import pytest

import sdk
from sdk.connection import (
    TRANSPORT_VARIABLE,
    Connector,
    ConnectorOptions,
    Transport,
    fast_transport_installed,
    transport_connector,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
PROJECT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Stop at once, with one message, without the fixtures or against a stale compiled build."""
    if not FIXTURES.is_dir():
        pytest.exit(
            f"the captured exchange messages are missing: expected {FIXTURES} "
            "(the shared/ folder must sit beside the checkout)",
            returncode=2,
        )
    compiled = (
        path for package in ("sdk", "adapters") for path in (PROJECT / package).rglob(f"*{EXTENSION_SUFFIXES[-1]}")
    )
    for extension in compiled:
        source = extension.parent / f"{extension.name.split('.')[0]}.py"
        if source.exists() and source.stat().st_mtime > extension.stat().st_mtime:
            pytest.exit(
                f"{source.relative_to(PROJECT)} changed after it was compiled; rebuild with "
                "`pip install -e .` (or XFEEDS_PURE_PYTHON=1 pip install -e . for pure Python)",
                returncode=2,
            )


def fixture_lines(relative: str) -> list[str]:
    """Non-empty lines of a file under ``../shared/fixtures``."""
    path = FIXTURES / relative
    if not path.exists():
        pytest.fail(f"missing fixture {path}: ../shared must sit beside the checkout")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on both backends the feed supports."""
    return str(request.param)


@pytest.fixture
def fast_reconnect() -> sdk.ReconnectPolicy:
    """Reconnects within a fifth of a second, so tests of outages stay short."""
    return sdk.ReconnectPolicy(initial=0.05, cap=0.2)


class TransportUnderTest:
    """One WebSocket transport: feeds built by default use it, and ``connector`` builds one with options."""

    def __init__(self, name: Transport) -> None:
        self.name = name

    def connector(self, **options: Unpack[ConnectorOptions]) -> Connector:
        return transport_connector(self.name, **options)


@pytest.fixture(params=["websockets", "picows"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> TransportUnderTest:
    """Transport-level tests run against both transports (picows on asyncio only, where it runs)."""
    name: Transport = request.param
    if name == "picows":
        if not fast_transport_installed():
            pytest.skip("picows is not installed (pip install 'xfeeds[fast]')")
        if "anyio_backend" in request.fixturenames and request.getfixturevalue("anyio_backend") != "asyncio":
            pytest.skip("picows runs on asyncio only")
    monkeypatch.setenv(TRANSPORT_VARIABLE, name)
    return TransportUnderTest(name)
