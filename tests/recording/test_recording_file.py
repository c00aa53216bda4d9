"""The file format: any records round-trip, a file cut short replays up to its last complete block,
and a recording that cannot keep up or cannot write reports a gap while the feed goes on."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import RecordingGap, Trade
from sdk import registry
from sdk.feed import Feed
from sdk.recording import (
    Connect,
    Disconnect,
    Gap,
    Header,
    Inbound,
    Outbound,
    Record,
    Recorder,
    Rotation,
    Settings,
    Subscribe,
    Tick,
)
from sdk.replay import inbound_frames, read_records
from sdk.subscriptions import book, trades
from sdk.testing import collect_until, of, subscriptions

SETTINGS = Settings(ack_timeout=1.0, stale_after=60.0, ping_interval=30.0, idle_timeout=15.0, resync_interval=0.5)
times = st.integers(min_value=0, max_value=2**63 - 1)
monos = st.floats(min_value=0, max_value=1e9, allow_nan=False)
conns = st.integers(min_value=1, max_value=1000)


def records() -> st.SearchStrategy[Record]:
    kraken = registry.get("kraken")
    return st.one_of(
        st.builds(Inbound, ns=times, mono=monos, conn=conns, text=st.text()),
        st.builds(Inbound, ns=times, mono=monos, conn=conns, data=st.binary()),
        st.builds(Outbound, ns=times, mono=monos, conn=conns, text=st.none() | st.text()),
        st.builds(Connect, ns=times, mono=monos, conn=conns, attempts=st.integers(0, 100)),
        st.builds(
            Disconnect, ns=times, mono=monos, conn=conns, reason=st.text(), code=st.none() | st.integers(1000, 4999)
        ),
        st.builds(
            Subscribe,
            ns=times,
            mono=monos,
            subscriptions=st.lists(subscriptions(kraken)).map(tuple),
            verify=st.booleans(),
        ),
        st.builds(Tick, ns=times, mono=monos),
        st.builds(
            Gap, ns=times, mono=monos, dropped=st.integers(0, 10**6), total=st.integers(0, 10**9), reason=st.text()
        ),
    )


def write(directory: Path, written: list[Record], **options: object) -> Recorder:
    recorder = Recorder(directory, **options)  # type: ignore[arg-type]
    recorder.start("kraken", "ws://127.0.0.1:1", SETTINGS)
    for record in written:
        recorder._put(record)
    recorder.close()
    return recorder


@settings(max_examples=60, deadline=None)
@given(st.lists(records(), max_size=40), st.integers(1, 7))
def test_any_records_round_trip(tmp_path_factory: pytest.TempPathFactory, written: list[Record], block: int) -> None:
    directory = tmp_path_factory.mktemp("round-trip")
    write(directory, written, block_records=block)
    read = [r for r in read_records(directory) if not isinstance(r, Header)] if written else []
    assert read == written
    for record in read:
        if isinstance(record, Inbound) and record.data is not None:
            assert record.frame == record.data


def test_a_file_cut_short_replays_up_to_its_last_complete_block(tmp_path: Path) -> None:
    written = [Inbound(ns=i, mono=i / 10, conn=1, text=f'{{"n":{i}}}') for i in range(1000)]
    write(tmp_path, written, block_records=100)
    (path,) = tmp_path.iterdir()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 40])  # a crash inside the last block
    read = [r for r in read_records(path) if isinstance(r, Inbound)]
    assert 900 <= len(read) < 1000
    assert read == written[: len(read)]


def test_files_rotate_by_size_each_with_its_header(tmp_path: Path) -> None:
    subscribe = Subscribe(ns=0, mono=0.0, subscriptions=(book("BTC/USD", 10),))
    written: list[Record] = [Connect(ns=0, mono=0.0, conn=1), subscribe]
    written += [
        Inbound(ns=i, mono=i / 10, conn=1, text=f'{{"n":{i}, "pad": "{i * 7919 % 104729}"}}') for i in range(1, 2000)
    ]
    recorder = write(tmp_path, written, block_records=50, rotation=Rotation(max_bytes=2000))
    files = sorted(tmp_path.iterdir())
    assert len(files) > 2 and files == recorder.files
    later = next(read_records(files[-1]))
    assert isinstance(later, Header) and later.connection == 1
    assert [held.subscription for held in later.subscriptions] == [book("BTC/USD", 10)]
    assert [r for r in read_records(tmp_path) if not isinstance(r, Header)] == written


@pytest.mark.loopback
def test_a_full_queue_reports_a_gap_and_the_feed_goes_on(tmp_path: Path) -> None:
    async def main() -> None:
        adapter = registry.get("kraken")
        async with adapter.make_simulator(tick_interval=0.002) as simulator:
            recorder = Recorder(tmp_path, queue_size=1, block_seconds=0.5)
            async with Feed(adapter, simulator.url, record=recorder) as feed:
                await feed.subscribe(trades("BTC/USD"), book("BTC/USD", 10))
                events = await collect_until(
                    feed, lambda seen: bool(of(RecordingGap, seen)) and len(of(Trade, seen)) > 5
                )
        gaps = of(RecordingGap, events)
        assert gaps[0].dropped > 0 and gaps[-1].total <= recorder.lost
        assert "did not keep up" in gaps[0].reason
        assert len(of(Trade, events)) > 5, "the feed went on"

    anyio.run(main)


@pytest.mark.loopback
def test_an_unwritable_directory_reports_a_gap_and_the_feed_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    async def main() -> None:
        adapter = registry.get("kraken")
        async with adapter.make_simulator(tick_interval=0.002) as simulator:
            recorder = Recorder(blocker / "recording", block_records=1)
            async with Feed(adapter, simulator.url, record=recorder) as feed:
                await feed.subscribe(trades("BTC/USD"))
                events = await collect_until(
                    feed, lambda seen: bool(of(RecordingGap, seen)) and len(of(Trade, seen)) > 5
                )
        gap = of(RecordingGap, events)[0]
        assert gap.dropped > 0 and "cannot open" in gap.reason
        assert len(of(Trade, events)) > 5

    anyio.run(main)


def test_inbound_frames_are_the_frames_received(tmp_path: Path) -> None:
    written: list[Record] = [
        Connect(ns=1, mono=0.0, conn=1),
        Inbound(ns=2, mono=0.1, conn=1, text="hello"),
        Outbound(ns=3, mono=0.2, conn=1, text="ask"),
        Inbound(ns=4, mono=0.3, conn=1, data=b"\xff\xfe"),
    ]
    write(tmp_path, written)
    assert list(inbound_frames(tmp_path)) == [(b"hello", 2), (b"\xff\xfe", 4)]


def test_a_recorder_never_blocks_its_caller(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, queue_size=10)
    recorder.start("kraken", "ws://127.0.0.1:1", SETTINGS)
    started = time.perf_counter()
    for i in range(10_000):
        recorder.received([b"x" * 100], i / 1000, i)
    assert time.perf_counter() - started < 1.0
    recorder.close()
    assert recorder.records + recorder.lost == 10_000


DISK_FULL = """
import json, resource, signal, sys
import anyio
from sdk import registry
from sdk.feed import Feed
from sdk.recording import Recorder
from sdk.subscriptions import trades
from sdk.testing import collect_until, of
from schemas.events import RecordingGap, Trade

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

async def main():
    adapter = registry.get("kraken")
    async with adapter.make_simulator(tick_interval=0.002) as simulator:
        recorder = Recorder(sys.argv[1], block_records=1, retry_seconds=60)
        async with Feed(adapter, simulator.url, record=recorder) as feed:
            await feed.subscribe(trades("BTC/USD"))
            events = await collect_until(feed, lambda seen: bool(of(RecordingGap, seen)) and len(of(Trade, seen)) > 50)
    gap = of(RecordingGap, events)[0]
    print(json.dumps({"reason": gap.reason, "dropped": gap.dropped, "trades": len(of(Trade, events))}))

anyio.run(main)
"""


@pytest.mark.loopback
@pytest.mark.skipif(not hasattr(__import__("resource"), "RLIMIT_FSIZE"), reason="needs POSIX file size limits")
def test_a_full_disk_reports_a_gap_and_the_feed_goes_on(tmp_path: Path) -> None:
    """A file size limit makes every write past 4 KB fail as a full disk does (EFBIG, in a child
    process so the limit touches nothing else): the recording reports a gap, the feed keeps going."""
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["dropped"] > 0 and outcome["trades"] > 50
    assert "File too large" in outcome["reason"], outcome["reason"]
