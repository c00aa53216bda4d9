"""Memory stays bounded while a slow consumer lets a hostile venue's large frames pile up."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import anyio
import pytest

import sdk
from schemas import ErrorEvent
from sdk import registry, testing
from sdk.contract import MESSAGE_LIMIT, RAW_EXCERPT
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of
from sdk.transport import DEFAULT_MAX_MESSAGE
from tests.conftest import TransportUnderTest

pytestmark = [pytest.mark.anyio, pytest.mark.loopback]

MIB = 1024 * 1024
FRAMES = 50
FRAME = '{"channel":"book","type":"snapshot","data":[' + "x" * (DEFAULT_MAX_MESSAGE - 1024)
"""Malformed, and just under the largest message a feed accepts by default."""


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


READ_BUFFER = {"websockets": 0, "picows": 2 * len(FRAME)}
"""What a connection keeps for reading once it has received the largest frame: websockets reads in
64 KiB pieces; picows reads into one buffer that grows, by doubling, to hold a whole frame, and keeps it."""


async def test_many_large_malformed_frames_held_for_a_slow_consumer_cost_little_memory(
    traced: None, transport: TransportUnderTest
) -> None:
    async def flood(peer: VenuePeer) -> None:
        for _ in range(FRAMES):
            await peer.send(FRAME)
        await peer.hold()

    async with HostileVenue(flood) as venue, sdk.connect("kraken", venue.url) as feed:
        tracemalloc.reset_peak()
        with anyio.fail_after(30):  # the consumer reads nothing until every frame is buffered
            while feed.buffered < FRAMES:
                await anyio.sleep(0.01)
        held, peak = tracemalloc.get_traced_memory()
        errors = of(ErrorEvent, await collect_until(feed, lambda es: len(of(ErrorEvent, es)) == FRAMES))

    print(
        f"{FRAMES} malformed frames of {len(FRAME) / MIB:.1f} MiB: held {held / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB"
    )
    read_buffer = READ_BUFFER[transport.name]
    assert held < 16 * MIB + read_buffer and peak < 48 * MIB  # one or two frames in flight, not fifty
    for error in errors:
        assert (error.raw, error.raw_size) == (FRAME[:RAW_EXCERPT], len(FRAME))
        assert f"{len(FRAME):,} bytes" in error.message


def test_a_venue_error_text_of_a_megabyte_is_cut_in_the_error_event() -> None:
    text = "e" * MIB
    [error] = testing.decode(registry.get("kraken-v1").new_codec(), f'{{"event":"error","errorMessage":"{text}"}}', 1)
    assert isinstance(error, ErrorEvent)
    assert len(error.message) < MESSAGE_LIMIT + 100 and error.message.startswith("exchange error: eee")
    assert len(error.raw) == RAW_EXCERPT and error.raw_size == len(text) + 35
