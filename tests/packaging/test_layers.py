"""Layers point one way: the core imports no adapter, and an adapter imports no simulator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(result.stdout))


def simulation_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("sdk.simulation") or m.rpartition(".")[2] == "simulator"}


@pytest.mark.parametrize("name", ["kraken", "kraken-v1", "midchains"])
def test_an_adapter_for_production_loads_no_simulator(name: str) -> None:
    loaded = modules_after(f"from sdk import registry\nregistry.get({name!r}).new_codec()")
    assert not simulation_modules(loaded)


def test_kraken_v2_does_not_load_v1() -> None:
    loaded = modules_after("import adapters.kraken")
    assert not {m for m in loaded if m.startswith("adapters.kraken_v1")}


def test_the_core_imports_no_adapter() -> None:
    loaded = modules_after("import sdk, sdk.cli, sdk.registry, sdk.testing")
    assert not {m for m in loaded if m == "adapters" or m.startswith("adapters.")}


def test_a_simulator_is_imported_when_one_is_made() -> None:
    loaded = modules_after("from sdk import registry\nregistry.get('kraken').make_simulator()")
    assert "adapters.kraken.simulator" in loaded


def test_a_feed_loads_no_http_client() -> None:
    """httpx serves order entry only; reading market data does not pay for its modules."""
    loaded = modules_after("import sdk\nsdk.connect('kraken-v1')")
    assert "httpx" not in loaded
