"""Requests are paced to an exchange's published limit."""

from __future__ import annotations

import time

import pytest

from sdk.pacing import RequestLimit, TokenBucket

pytestmark = pytest.mark.anyio


async def test_burst_then_steady_rate() -> None:
    bucket = TokenBucket(RequestLimit(per_second=20, burst=3))
    start = time.monotonic()
    for _ in range(3):
        await bucket.acquire()
    burst = time.monotonic() - start
    for _ in range(4):
        await bucket.acquire()
    total = time.monotonic() - start
    assert burst < 0.1  # the burst goes out at once (two paced requests would take 0.1 s)
    assert total >= 4 / 20 - 0.02  # the rest at no more than 20 a second
