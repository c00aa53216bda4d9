"""Properties of a venue's request allowance: what it admits never exceeds the published limit,
and a client pacing itself to the limit is never refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sdk.pacing import RequestLimit
from sdk.simulation.allowance import RequestAllowance

LIMIT = RequestLimit(per_second=5, burst=10)


@given(st.lists(st.integers(0, 2_000_000_000), max_size=80))
def test_admitted_requests_stay_within_burst_plus_rate(gaps: list[int]) -> None:
    allowance = RequestAllowance(LIMIT)
    now, admitted = 0, []
    for gap in gaps:
        now += gap
        if allowance.admit(now):
            admitted.append(now)
    for first, start in enumerate(admitted):
        for last in range(first, len(admitted)):
            elapsed = (admitted[last] - start) / 1e9
            assert last - first + 1 <= LIMIT.burst + elapsed * LIMIT.per_second + 1e-9


@given(st.integers(0, 10**12), st.lists(st.integers(200_000_000, 5_000_000_000), max_size=50))
def test_a_paced_client_after_its_burst_is_never_refused(start: int, gaps: list[int]) -> None:
    allowance = RequestAllowance(LIMIT)
    assert all(allowance.admit(start) for _ in range(LIMIT.burst))
    assert not allowance.admit(start)
    now = start
    for gap in gaps:
        now += gap
        assert allowance.admit(now)
