"""The wheel: compiled hot path in a platform wheel, pure Python when asked or when compiling is impossible."""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

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
