"""One collector of a redundant pair, as its own process: publishes the same numbered trades as its
twin, paced, so a test can kill it with SIGKILL in the middle of its work."""

from __future__ import annotations

import sys

import anyio

import sdk
from sdk.source import EventList
from tests.fanout.sources import trades


async def main(url: str, prefix: str, count: int, name: str) -> None:
    source = EventList(trades(count), batch=200, pause=0.002)
    async with sdk.publish(source, url, prefix=prefix, collector=name, batch_size=200) as publisher:
        print("publishing", flush=True)
        await publisher.run()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
