"""Every Python example in the README runs, against the local simulators instead of the exchanges.

Each block runs as written, with three substitutions: ``sdk.connect``/``sdk.connect_sync`` point at
a simulator of the same exchange, ``print`` ends the example after a few lines of output, and a
bare ``async with`` fragment is wrapped in a coroutine. An exception other than that ending fails.
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

pytestmark = pytest.mark.loopback

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
LINES_PER_EXAMPLE = 5


class Enough(Exception):
    """The example printed enough to show it works."""


def printer(lines: list[str]) -> Callable[..., None]:
    def print_(*args: object, **kwargs: Any) -> None:
        lines.append(" ".join(map(str, args)))
        if len(lines) >= LINES_PER_EXAMPLE:
            raise Enough

    return print_


def redirected(urls: dict[str, str]) -> types.SimpleNamespace:
    """The ``sdk`` module, with connections going to the simulators unless the example names a URL."""
    namespace = types.SimpleNamespace(**{name: getattr(sdk, name) for name in dir(sdk) if not name.startswith("__")})
    namespace.connect = lambda exchange, url=None, **options: sdk.connect(exchange, url or urls[exchange], **options)
    namespace.connect_sync = lambda exchange, url=None, **options: sdk.connect_sync(
        exchange, url or urls[exchange], **options
    )
    return namespace


@pytest.fixture(scope="module")
def simulator_urls() -> Iterator[dict[str, str]]:
    """A simulator per exchange the README names, served on a background event loop."""
    from anyio.from_thread import start_blocking_portal

    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        urls = {}
        for name in ("kraken", "kraken-v1", "midchains"):
            simulator = sdk.registry.get(name).make_simulator(tick_interval=0.005)
            stack.enter_context(portal.wrap_async_context_manager(simulator))
            urls[name] = simulator.url
        yield urls


def runs(block: str) -> list[str]:
    """A block as programs, one per example it shows: its imports and definitions, then one top-level
    statement that connects (a bare ``async with`` fragment becomes the body of ``main``)."""
    if block.lstrip().startswith("async with"):
        block = "import anyio\nasync def main() -> None:\n" + textwrap.indent(block, "    ") + "\nanyio.run(main)\n"
    statements = [s for s in ast.parse(block).body if not _imports_sdk(s)]  # the redirected sdk stands in
    setup = [s for s in statements if isinstance(s, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef)]
    return [ast.unparse([*setup, s]) for s in statements if s not in setup]


def _imports_sdk(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Import) and [alias.name for alias in statement.names] == ["sdk"]


EXAMPLES = [program for block in BLOCKS for program in runs(block)]


@pytest.mark.parametrize("program", EXAMPLES, ids=[f"example-{i + 1}" for i in range(len(EXAMPLES))])
def test_readme_example_runs(program: str, simulator_urls: dict[str, str]) -> None:
    lines: list[str] = []
    namespace: dict[str, Any] = {
        "__name__": "readme_example",
        "print": printer(lines),
        "run_the_bot": lambda: time.sleep(1.0),
    }
    code = compile(program, "README example", "exec")
    namespace["sdk"] = redirected(simulator_urls)
    with contextlib.suppress(Enough):  # the example printed enough
        exec(code, namespace)
    assert len(lines) >= LINES_PER_EXAMPLE, f"the example printed only {lines}"
