"""Build hook: compile the per-frame hot path with mypyc, or ship it as pure Python.

The modules listed under ``[tool.hatch.build.targets.wheel.hooks.custom] modules`` (the feed
session and its event buffer, the codec base and the Kraken codecs, the book engine and its
checksum, the wire-text conversions, the event classes they make) run for every frame received.
They are ordinary, strictly typed Python; mypyc turns them into C extensions with the same
behaviour and about 30 % fewer instructions per frame. Where that cannot be done (no C compiler,
an unusual platform) or when ``XFEEDS_PURE_PYTHON=1`` is set, the build warns and the pure-Python
modules are used.

In those modules a class or function imported from an uncompiled module and used per frame is
bound once to a ``Final`` name (the event structs in ``sdk/event_classes.py``; ``Decimal``,
``bisect_left`` where they are used): compiled code reads a ``Final`` name from a C static, but
looks an imported name up in the module's dictionary at every use.

Compiled modules sit beside their sources (an editable install imports them from there), so every
build first removes the previous ones: an edited source is never shadowed by a stale extension. A
wheel's build removes them again once the wheel holds them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_SUFFIX = EXTENSION_SUFFIXES[-1]
"""How this platform's extension modules end (``.so``, ``.pyd``)."""

_COMPILE = """
import sys
from mypyc.build import mypycify
from setuptools import Distribution

distribution = Distribution({"name": "xfeeds-hot-path", "ext_modules": mypycify(sys.argv[1:], opt_level="3")})
build = distribution.get_command_obj("build_ext")
build.inplace = True
distribution.run_command("build_ext")
"""
"""Runs mypyc and setuptools' build_ext in place, without setuptools reading the project's own
configuration (this project is built by hatchling)."""


def compiles(target_name: str, modules: list[Path], environ: Mapping[str, str]) -> bool:
    """Whether this build compiles the hot path: wheels (editable ones too), unless told not to."""
    return target_name == "wheel" and bool(modules) and environ.get("XFEEDS_PURE_PYTHON") != "1"


def ship_compiled(build_data: dict[str, Any], root: Path, modules: list[Path]) -> None:
    """Put the compiled modules in the wheel and tag it for this interpreter and platform
    (``cp311-cp311-linux_x86_64``, not ``py3-none-any``): its extensions run nowhere else."""
    build_data["pure_python"] = False
    build_data["infer_tag"] = True
    build_data["artifacts"].extend(f"/{module.with_suffix('')}.*{_SUFFIX}" for module in modules)
    for runtime in root.glob(f"*__mypyc.*{_SUFFIX}"):  # the support library all compiled modules share
        build_data["force_include"][str(runtime)] = runtime.name


class CompileHotPath(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        modules = [Path(module) for module in self.config.get("modules", [])]
        for extension in self._extensions(root, modules):
            extension.unlink()
        if not compiles(self.target_name, modules, os.environ):
            return
        result = subprocess.run(
            [sys.executable, "-c", _COMPILE, *map(str, modules)], cwd=root, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            for extension in self._extensions(root, modules):
                extension.unlink()
            output = (result.stdout + result.stderr)[-3000:]
            self.app.display_warning(f"mypyc could not compile the hot path; using pure Python:\n{output}")
            return
        for extension in self._extensions(root, modules):
            extension.touch()  # built now, even where setuptools reused an unchanged build
        if version == "editable":  # imported from the source tree, where they were built
            return
        ship_compiled(build_data, root, modules)

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """After a wheel is written, take its extensions out of the source tree: left there, they
        would shadow the sources for an editable or pure-Python install of the same checkout."""
        if version != "editable":
            modules = [Path(module) for module in self.config.get("modules", [])]
            for extension in self._extensions(Path(self.root), modules):
                extension.unlink()

    @staticmethod
    def _extensions(root: Path, modules: list[Path]) -> list[Path]:
        found = [*root.glob(f"*__mypyc.*{_SUFFIX}")]
        for module in modules:
            found.extend((root / module.parent).glob(f"{module.stem}.*{_SUFFIX}"))
        return found
