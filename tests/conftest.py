"""Shared test helpers: the captured Kraken fixtures and the async backends to run on."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


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
