"""A real Redis server for the fan-out tests: ``.ci/run``'s (``XFEEDS_TEST_REDIS_URL``) when set,
else one started for the session. Every test gets its own stream prefix, so tests never share data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdk.fanout.local_server import RedisServer, ServerMissing


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("XFEEDS_TEST_REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    started(server)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server this test alone uses, so it may kill and restart it (append-only, fsync always)."""
    server = RedisServer(tmp_path, appendfsync="always")
    started(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    """A stream prefix no other test uses."""
    return f"xfeeds-test-{uuid.uuid4().hex[:12]}"


def started(server: RedisServer) -> None:
    """Start a server; without redis-server, fail in CI (``.ci/run`` installs it), else skip."""
    try:
        server.start()
    except ServerMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: .ci/run installs it")
        pytest.skip(str(missing))
