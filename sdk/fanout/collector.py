"""One collector: the feeds of one shard of a fleet, merged and published into Redis streams.

A collector is the unit that can die: it runs in a process of its own (``sdk.fanout.supervisor``
starts and restarts it), stops cleanly on SIGTERM or SIGINT (the publisher stores what it holds
before the process ends), and stops by itself when the process that started it has gone, so a
killed supervisor leaves no orphan publishing on. What it sees of its connections and of Redis
(drops, reconnects, refused subscriptions, gaps) goes to its log, one line each.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import anyio.abc

from schemas.events import Event
from sdk import connect, registry
from sdk.credentials import shown_url
from sdk.fanout.entries import is_venue_event
from sdk.fanout.fleet import Fleet, Shard
from sdk.fanout.publish import publish
from sdk.feed import Feed
from sdk.merge import merge
from sdk.render import describe
from sdk.sharded import ShardedFeed
from sdk.source import EventSource

logger = logging.getLogger("xfeeds.collect")

PARENT_POLL = 0.5
"""Seconds between checks that the starting process is still there."""


async def collect_shard(
    fleet: Fleet, shard: Shard, *, collector: str, simulate: bool = False, parent: int | None = None
) -> None:
    """Publish ``shard``'s events until SIGTERM or SIGINT, or until the parent process is gone.

    ``collector`` names this collector in its control entries (``host/shard``). With
    ``simulate`` every feed connects to its exchange's simulator, run in this process. ``parent``
    is the process id of the supervisor that started this one (default: the parent now), so a
    supervisor that died while this process was starting is noticed too.
    """
    reading = anyio.CancelScope()
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:  # kept open until stored
        async with anyio.create_task_group() as group:
            group.start_soon(_stop_on_signal, signals, reading)
            group.start_soon(_stop_when_orphaned, reading, parent or os.getppid())
            await _publish(fleet, shard, collector, simulate, reading)
            group.cancel_scope.cancel()


async def _publish(fleet: Fleet, shard: Shard, collector: str, simulate: bool, reading: anyio.CancelScope) -> None:
    """Publish until ``reading`` is cancelled; the publisher then closes unhurried, storing what it holds."""
    async with AsyncExitStack() as stack:
        endpoints = await stack.enter_async_context(_endpoints(shard, simulate))
        feeds: list[Feed | ShardedFeed] = []
        for share, url in zip(shard.feeds, endpoints, strict=True):
            feed = connect(share.exchange, url, subscriptions_per_connection=share.subscriptions_per_connection)
            await feed.subscribe(*share.subscriptions)
            feeds.append(feed)
        source: EventSource[Event] = feeds[0] if len(feeds) == 1 else merge(*feeds)
        publisher = await stack.enter_async_context(
            publish(source, fleet.redis, prefix=fleet.prefix, collector=collector)
        )
        logger.info(
            "%s: %d subscriptions on %s, publishing to %s under %r",
            collector,
            shard.size,
            ", ".join(share.exchange for share in shard.feeds),
            shown_url(fleet.redis),
            fleet.prefix,
        )
        with reading:
            async for event in publisher:
                if not is_venue_event(event):
                    logger.info("%s: %s", collector, describe(event))


@asynccontextmanager
async def _endpoints(shard: Shard, simulate: bool) -> AsyncIterator[list[str | None]]:
    """Each feed's URL: the one the fleet names (None: the exchange's), or under ``simulate`` the
    URL of its exchange's simulator, one per exchange, run for as long as the collector runs."""
    if not simulate:
        yield [share.url for share in shard.feeds]
        return
    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        for share in shard.feeds:
            if share.exchange not in urls:
                simulator = registry.get(share.exchange).make_simulator(tick_interval=0.05)
                urls[share.exchange] = (await stack.enter_async_context(simulator)).url
        yield [urls[share.exchange] for share in shard.feeds]


async def _stop_on_signal(signals: AsyncIterator[int], reading: anyio.CancelScope) -> None:
    """Stop reading at the first signal; later ones are received and ignored while it stores."""
    async for received in signals:
        if not reading.cancel_called:
            logger.info("stopping on %s", signal.Signals(received).name)
        reading.cancel()


async def _stop_when_orphaned(scope: anyio.CancelScope, parent: int) -> None:
    """Stop once the process that started this one has ended (its children are re-parented)."""
    while os.getppid() == parent:
        await anyio.sleep(PARENT_POLL)
    logger.warning("the supervising process %d has gone: stopping", parent)
    scope.cancel()
