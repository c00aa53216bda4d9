"""The wheel: compiled hot path in a platform wheel, pure Python when asked or when compiling is impossible."""

from __future__ import annotations

import importlib
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

import pytest

from hatch_build import compiles, ship_compiled

MODULES = [Path("sdk/session.py"), Path("adapters/kraken/codec.py")]
SUFFIX = EXTENSION_SUFFIXES[-1]


def test_wheels_compile_unless_pure_python_is_asked_for() -> None:
    assert compiles("wheel", MODULES, {})
    assert not compiles("wheel", MODULES, {"XFEEDS_PURE_PYTHON": "1"})
    assert not compiles("sdist", MODULES, {})
    assert not compiles("wheel", [], {})


def test_a_compiled_build_is_a_platform_wheel_holding_the_extensions(tmp_path: Path) -> None:
    runtime = tmp_path / f"abc123__mypyc{EXTENSION_SUFFIXES[0]}"  # e.g. .cpython-311-x86_64-linux-gnu.so
    runtime.touch()
    build_data: dict[str, Any] = {"pure_python": True, "infer_tag": False, "artifacts": [], "force_include": {}}

    ship_compiled(build_data, tmp_path, MODULES)

    assert build_data["pure_python"] is False
    assert build_data["infer_tag"] is True  # hatchling then tags the wheel cpXY-cpXY-<platform>
    assert build_data["artifacts"] == [f"/sdk/session.*{SUFFIX}", f"/adapters/kraken/codec.*{SUFFIX}"]
    assert build_data["force_include"] == {str(runtime): runtime.name}


@pytest.mark.skipif(
    not os.environ.get("CI") or os.environ.get("XFEEDS_PURE_PYTHON") == "1",
    reason="CI installs with a compiler; a developer's checkout may be pure Python on purpose",
)
def test_the_install_ci_tested_compiled_the_hot_path() -> None:
    """A build requirement missing from pyproject.toml makes mypyc fail and the install fall back to
    pure Python with only a warning; CI would then measure and test the wrong build."""
    for module in ("sdk.session", "sdk.book", "adapters.kraken_v1.codec"):
        assert str(importlib.import_module(module).__file__).endswith(SUFFIX), f"{module} is not compiled"
