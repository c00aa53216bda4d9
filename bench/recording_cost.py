"""What recording costs a feed, and how fast a recording replays, on real Kraken v1 book frames.

    python -m bench.recording_cost

The same frames go through a feed's session three ways in one run: without recording (the
baseline), with a ``Recorder`` (frames handed to its queue; the writer thread's encoding and zstd
compression share the one pinned core, and the time runs until every byte is on disk), and replayed
from the file just written (decompress, decode the records, drive a fresh session).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.decode_throughput import load
from bench.timing import pin_to_one_core, repeat_to
from sdk import registry
from sdk.recording import Recorder, Settings
from sdk.replay import Player, read_records
from sdk.session import FeedSession

FRAMES = 100_000
SETTINGS = Settings(ack_timeout=10.0, stale_after=60.0, ping_interval=30.0, idle_timeout=15.0, resync_interval=0.5)


def live(frames: list[bytes], recorder: Recorder | None) -> float:
    """Seconds to feed every frame to a fresh session, one read at a time, as the feed does."""
    session = FeedSession(registry.get("kraken-v1"))
    session.connection_made(0.0, 0)
    started = time.perf_counter()
    if recorder is not None:
        recorder.connection_made(0.0, 0, 0)
    for index, frame in enumerate(frames):
        batch = [frame]
        if recorder is not None:
            recorder.received(batch, index * 1e-4, index)
        session.receive(batch, index * 1e-4, index)
    if recorder is not None:
        recorder.close()
    return time.perf_counter() - started


def replayed(directory: Path) -> tuple[float, int]:
    started = time.perf_counter()
    records = read_records(directory)
    player = Player(next(records))  # type: ignore[arg-type]  # a recording starts with its header
    played = 0
    for record in records:
        player.play(record)
        played += 1
    return time.perf_counter() - started, played


def best(run: Callable[[], float], rounds: int = 3) -> float:
    return min(run() for _ in range(rounds))


def main() -> None:
    pin_to_one_core()
    frames = repeat_to([f for f in load("v1_book*.jsonl") if f.startswith(b"[")], FRAMES)[:FRAMES]
    raw = sum(map(len, frames))
    baseline = best(lambda: live(frames, None))
    with tempfile.TemporaryDirectory() as scratch:
        recorders: list[Recorder] = []

        def recording() -> float:
            recorder = Recorder(Path(scratch) / str(len(recorders)), queue_size=FRAMES + 10)
            recorder.start("kraken-v1", "wss://ws.kraken.com", SETTINGS)
            recorders.append(recorder)
            return live(frames, recorder)

        recorded = best(recording)
        last = recorders[-1]
        assert last.lost == 0, f"{last.lost} records lost"
        replay_seconds, played = min(replayed(last.directory) for _ in range(3))
    n = len(frames)
    print(f"{n:,} real Kraken v1 book frames, {raw / n:.1f} bytes each on the wire")
    print(f"feed session, no recording : {n / baseline:>10,.0f} frames/s  {baseline / n * 1e6:6.2f} µs/frame")
    print(f"feed session, recording    : {n / recorded:>10,.0f} frames/s  {recorded / n * 1e6:6.2f} µs/frame")
    cost = (recorded - baseline) / n * 1e6
    print(f"recording cost             : {cost:6.2f} µs/frame, {last.bytes / n:.1f} bytes/frame on disk")
    print(f"replay (read + session)    : {played / replay_seconds:>10,.0f} records/s")


if __name__ == "__main__":
    main()
