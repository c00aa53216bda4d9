"""Kraken v1 codec decode throughput on the captured fixtures, beside plain ``msgspec.json.decode``.

    python bench/decode_throughput.py

Plain untyped ``msgspec.json.decode`` of the same bytes is the ceiling: it builds Python objects
but normalizes nothing. The codec's figure includes validation, Decimal prices, symbol mapping,
nanosecond timestamps and the schema events themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.timing import compare, pin_to_one_core, plain_msgspec, repeat_to, report
from sdk import registry
from sdk.wiretext import forget_wire_decimals

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "kraken"


def load(pattern: str) -> list[bytes]:
    return [
        line.encode()
        for path in sorted(FIXTURES.glob(pattern))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def main() -> None:
    pin_to_one_core()
    other_channels = [f for name in ("trade", "ticker", "spread", "ohlc") for f in load(f"v1_{name}.jsonl")]
    corpora = {
        "all v1 fixtures": load("v1_*.jsonl"),
        "book updates (v1_book + depth 1000)": [f for f in load("v1_book*.jsonl") if f.startswith(b"[")],
        "trades + tickers + spreads + ohlc": [f for f in other_channels if f.startswith(b"[")],
    }
    for title, sample in corpora.items():
        frames = repeat_to(sample, 100_000)
        results = compare(
            {"msgspec.json.decode": plain_msgspec(frames), "xfeeds kraken-v1 codec": _codec(frames)},
            baseline="msgspec.json.decode",
        )
        report(f"{title}: {len(frames):,} frames", results, "frames", "msgspec")


def _codec(frames: list[bytes]) -> Callable[[], int]:
    decode = registry.get("kraken-v1").new_codec().decode_frame

    def run() -> int:
        forget_wire_decimals()  # every pass starts cold: no help from texts seen in earlier rounds
        for frame in frames:
            decode(frame, 0)
        return len(frames)

    return run


if __name__ == "__main__":
    main()
