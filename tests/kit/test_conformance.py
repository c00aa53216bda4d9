"""Every built-in adapter passes the adapter author's conformance suite."""

from __future__ import annotations

import pytest
from hypothesis import given

from schemas import Event
from sdk.testing import AdapterConformance, events

pytestmark = pytest.mark.loopback  # the suite streams from each adapter's simulator


class TestKrakenConformance(AdapterConformance):
    adapter_name = "kraken"
    symbol = "BTC/USD"


class TestKrakenV1Conformance(AdapterConformance):
    adapter_name = "kraken-v1"
    symbol = "ETH/USD"


class TestMidchainsConformance(AdapterConformance):
    adapter_name = "midchains"
    symbol = "BCH/USD"


@given(events())
def test_generated_events_are_valid_schema_values(event: Event) -> None:
    import msgspec

    assert msgspec.json.decode(msgspec.json.encode(event), type=Event) == event
