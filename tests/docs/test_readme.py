"""Every Python example in the README runs, against the local simulators instead of the exchanges.

Each block runs as written, with these substitutions: ``sdk.connect``/``sdk.connect_sync`` point at
a simulator of the same exchange, ``sdk.account``/``sdk.account_sync`` at that simulator's private
socket and REST, with ``XFEEDS_KRAKEN_KEY``/``XFEEDS_KRAKEN_SECRET`` set to its test account, ``print``
ends a market-data example after a few lines of output (a trading example must end by itself), and
a bare ``async with`` fragment is wrapped in a coroutine. An exception other than that ending fails.
"""

from __future__ import annotations

import ast
import contextlib
import re
import textwrap
import time
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import sdk
import sdk.registry
from adapters.kraken.simulator import DEFAULT_TEST_KEY, DEFAULT_TEST_SECRET, KrakenSimulator
from sdk.simulation.simulator import Simulator

pytestmark = pytest.mark.loopback

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
LINES_PER_EXAMPLE = 5


class Enough(Exception):
    """The example printed enough to show it works."""


def printer(lines: list[str], stop_after: int | None) -> Callable[..., None]:
    def print_(*args: object, **kwargs: Any) -> None:
        lines.append(" ".join(map(str, args)))
        if stop_after is not None and len(lines) >= stop_after:
            raise Enough

    return print_


def redirected(simulators: dict[str, Simulator]) -> types.SimpleNamespace:
    """The ``sdk`` module, with connections going to the simulators unless the example names a URL."""
    namespace = types.SimpleNamespace(**{name: getattr(sdk, name) for name in dir(sdk) if not name.startswith("__")})
    namespace.connect = lambda exchange, url=None, **options: sdk.connect(
        exchange, url or simulators[exchange].url, **options
    )
    namespace.connect_sync = lambda exchange, url=None, **options: sdk.connect_sync(
        exchange, url or simulators[exchange].url, **options
    )
    namespace.account = lambda exchange, credentials, url=None, rest_url=None, **options: sdk.account(
        exchange, credentials, *_private_endpoints(simulators[exchange], url, rest_url), **options
    )
    namespace.account_sync = lambda exchange, credentials, url=None, rest_url=None, **options: sdk.account_sync(
        exchange, credentials, *_private_endpoints(simulators[exchange], url, rest_url), **options
    )
    return namespace


def _private_endpoints(simulator: Simulator, url: str | None, rest_url: str | None) -> tuple[str, str]:
    assert isinstance(simulator, KrakenSimulator), f"{type(simulator).__name__} serves no trading"
    return url or simulator.auth_url, rest_url or simulator.rest_url


@pytest.fixture(scope="module")
def simulators() -> Iterator[dict[str, Simulator]]:
    """A simulator per exchange the README names, served on a background event loop."""
    from anyio.from_thread import start_blocking_portal

    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        running = {}
        for name in ("kraken", "kraken-v1", "midchains"):
            simulator = sdk.registry.get(name).make_simulator(tick_interval=0.005)
            running[name] = stack.enter_context(portal.wrap_async_context_manager(simulator))
        yield running


SETUP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign)
"""Top-level statements every example of a block needs: what it imports and defines."""


def runs(block: str) -> list[str]:
    """A block as programs, one per example it shows: its imports, definitions and constants, then one
    top-level statement that connects (a bare ``async with`` fragment becomes the body of ``main``)."""
    if block.lstrip().startswith("async with"):
        block = "import anyio\nasync def main() -> None:\n" + textwrap.indent(block, "    ") + "\nanyio.run(main)\n"
    statements = [s for s in ast.parse(block).body if not _imports_sdk(s)]  # the redirected sdk stands in
    setup = [s for s in statements if isinstance(s, SETUP)]
    return [ast.unparse([*setup, s]) for s in statements if s not in setup]


def _imports_sdk(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Import) and [alias.name for alias in statement.names] == ["sdk"]


def trades(program: str) -> bool:
    """Whether the example opens a trading account (it must then end by itself)."""
    return "sdk.account" in program


EXAMPLES = [program for block in BLOCKS for program in runs(block)]


@pytest.mark.parametrize("program", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(program: str, simulators: dict[str, Simulator], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XFEEDS_KRAKEN_KEY", DEFAULT_TEST_KEY)
    monkeypatch.setenv("XFEEDS_KRAKEN_SECRET", DEFAULT_TEST_SECRET)
    lines: list[str] = []
    namespace: dict[str, Any] = {
        "__name__": "readme_example",
        "print": printer(lines, None if trades(program) else LINES_PER_EXAMPLE),
        "run_the_bot": lambda: time.sleep(1.0),
    }
    code = compile(program, "README example", "exec")
    namespace["sdk"] = redirected(simulators)
    if trades(program):
        exec(code, namespace)  # a bot ends by itself
        assert lines, "the trading example printed nothing"
        kraken = simulators["kraken"]
        assert isinstance(kraken, KrakenSimulator)
        assert kraken.engine.open_orders(DEFAULT_TEST_KEY) == [], "the bot left orders on the book"
        return
    with contextlib.suppress(Enough):  # the example printed enough
        exec(code, namespace)
    assert len(lines) >= LINES_PER_EXAMPLE, f"the example printed only {lines}"
