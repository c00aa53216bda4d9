"""What every fan-out client of the Redis server shares: how it connects, what counts as the server
being unreachable, and how a restart of the server is recognised."""

from __future__ import annotations

import redis.asyncio
import redis.exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

from sdk.connection import running_on_asyncio
from sdk.reconnect import ReconnectPolicy

BROKER = "redis"
"""The ``exchange`` of the fan-out's own control events: they are about the server, not a venue."""

RECONNECT = ReconnectPolicy(initial=0.1, cap=5.0)
"""A server on the same network comes back in seconds: no reason to wait up to a feed's 30 s."""

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
"""Errors that mean the server could not be reached (or went away), as opposed to a refused command."""


def client(redis_url: str, *, socket_timeout: float | None = 10.0) -> redis.asyncio.Redis:
    """A client that never retries by itself: a lost server is reported by the caller, not hidden."""
    return redis.asyncio.Redis.from_url(
        redis_url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2.0, socket_timeout=socket_timeout
    )


async def run_id(connection: redis.asyncio.Redis) -> str:
    """The server process's identity: a new one after every restart."""
    info = await connection.info("server")
    return str(info["run_id"])


def require_asyncio(what: str, blocking_twin: str) -> None:
    """Refuse to run anywhere but on asyncio, where redis-py's client runs, naming the way out."""
    if not running_on_asyncio():
        raise RuntimeError(f"{what} runs on asyncio (redis-py's client); use {blocking_twin} elsewhere")


PASSING_REFUSALS = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
)
"""Refusals of a server that cannot take a write now but will: out of memory until trimming frees
some, a replica or a master without its replicas during a failover."""

PASSING_CODES = ("BUSY", "NOREPLICAS")
"""The same for codes redis-py keeps in the message: a long script running, too few replicas."""


def refused_for_now(error: redis.exceptions.ResponseError) -> bool:
    """Whether the server refused a command for a passing reason (try again later) rather than
    because the command itself can never succeed."""
    return isinstance(error, PASSING_REFUSALS) or str(error).startswith(PASSING_CODES)
