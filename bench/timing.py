"""Interleaved, median-of-rounds timing for the benchmarks in this folder.

Every variant runs once per round, in the same order, so drift on a noisy shared machine hits all
of them alike; ratios are taken within a round, then their median is reported.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from importlib.machinery import EXTENSION_SUFFIXES

import msgspec

import sdk.session


def pin_to_one_core() -> None:
    """Run on a single core where the platform allows it, for steadier numbers, and say which
    build of the hot path is measured."""
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[-1]})
    print(f"hot path: {hot_path_build()}")


def hot_path_build() -> str:
    """Whether the per-frame modules were compiled by mypyc at install time, or run as Python."""
    if sdk.session.__file__ is not None and sdk.session.__file__.endswith(tuple(EXTENSION_SUFFIXES)):
        return "compiled with mypyc"
    return "pure Python (no compiler at install time, or XFEEDS_PURE_PYTHON=1)"


def compare(
    variants: dict[str, Callable[[], int]], *, baseline: str, rounds: int = 5
) -> dict[str, tuple[float, float]]:
    """Items per second (median) and ratio to ``baseline`` (median of per-round ratios).

    Each variant processes its whole input once per call and returns how many items it handled.
    """
    for run in variants.values():  # warm-up
        run()
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            gc.collect()
            start = time.perf_counter()
            items = run()
            rates[name].append(items / (time.perf_counter() - start))
    base = rates[baseline]
    return {
        name: (statistics.median(values), statistics.median(v / b for v, b in zip(values, base, strict=True)))
        for name, values in rates.items()
    }


def report(title: str, results: dict[str, tuple[float, float]], unit: str, baseline: str) -> None:
    print(f"\n{title}")
    width = max(len(name) for name in results)
    for name, (rate, ratio) in results.items():
        print(f"  {name:<{width}}  {rate / 1000:10.1f}k {unit}/s  {ratio:6.2f}x {baseline}")


def repeat_to(items: Sequence[bytes], minimum: int) -> list[bytes]:
    """``items`` repeated until there are at least ``minimum`` of them."""
    copies = -(-minimum // len(items))
    return list(items) * copies


def plain_msgspec(frames: Sequence[bytes]) -> Callable[[], int]:
    """The ceiling every decoder is compared with: untyped ``msgspec.json.decode`` of each frame."""
    decode = msgspec.json.decode

    def run() -> int:
        for frame in frames:
            decode(frame)
        return len(frames)

    return run


def against_peer(
    title: str, frames: Sequence[str], ours: Callable[[], int], peer_name: str, peer: Callable[[], int] | None
) -> None:
    """Run xfeeds, the peer (when installed) and the msgspec ceiling; report ratios to the peer."""
    variants = {"msgspec.json.decode": plain_msgspec([frame.encode() for frame in frames]), "xfeeds": ours}
    if peer is not None:
        variants[peer_name] = peer
    baseline = peer_name if peer is not None else "msgspec.json.decode"
    report(title, compare(variants, baseline=baseline), "msgs", baseline)
    if peer is None:
        print(f"  {peer_name} is not installed (pip install -e '.[bench]'): no peer comparison")
