"""The one shape every stream of events has: a live feed today, replays and readers tomorrow.

Consumers (user code, the sync face, the terminal view) depend on this protocol only, so any
source of events plugs into all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Protocol, Self, TypeVar

E = TypeVar("E")


class EventSource(Protocol[E]):
    """An async context manager yielding events, one by one or in batches: market ``Event``s
    from a feed, ``TradingEvent``s from an account.

    Iteration ends when the source is closed by its user; ``FeedClosed(failed=True)`` is raised
    (after every buffered event) when a policy ended it; an unexpected error surfaces as itself.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[E]: ...

    async def next_batch(self) -> list[E]:
        """Every event available now (at least one, waiting for it); ``FeedClosed`` at the end."""
        ...

    async def aclose(self) -> None: ...
