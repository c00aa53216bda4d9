"""The trading conformance suite catches contract bugs: each planted in the Kraken adapter as one
changed method of its private codec makes its check fail (the unmodified adapter passes the same
checks in ``test_trading_conformance.py``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import ClassVar, NamedTuple

import pytest

from adapters.kraken.private import KrakenPrivateCodec
from schemas.events import ErrorEvent
from schemas.trading import Fill, OrderRequest
from sdk import registry
from sdk.contract import Adapter
from sdk.credentials import Secret
from sdk.testing import TradingConformance
from sdk.trading_contract import Answer, Decoded, SignedFrame, TradingCodec

pytestmark = pytest.mark.loopback


class DropsSnapshotFills(KrakenPrivateCodec):
    """Skips the fills of the executions snapshot, as if the snapshot only re-sent old ones."""

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        decoded = super().decode_frame(frame, received_ns)
        text = frame.decode() if isinstance(frame, bytes) else frame
        return [item for item in decoded if not (type(item) is Fill and '"type":"snapshot"' in text)]


class ResendsOnReconnect(KrakenPrivateCodec):
    """Places again, on the new connection, every order whose reply the old one lost."""

    def __init__(self, exchange: str, symbols: object) -> None:
        super().__init__(exchange, symbols)  # type: ignore[arg-type]
        self.in_flight: dict[int, OrderRequest] = {}
        self.lost: list[OrderRequest] = []

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        frame = super().add_order(order, token)
        self.in_flight[frame.req_id] = order
        return frame

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        decoded = super().decode_frame(frame, received_ns)
        for item in decoded:
            if isinstance(item, Answer):
                self.in_flight.pop(item.req_id, None)
        return decoded

    def forget_requests(self) -> None:
        super().forget_requests()
        self.lost += self.in_flight.values()
        self.in_flight.clear()

    def subscribe_private(self, token: Secret | None) -> list[SignedFrame]:
        resent = [super(ResendsOnReconnect, self).add_order(order, token) for order in self.lost]
        self.lost.clear()
        return super().subscribe_private(token) + resent


class TokenInErrors(KrakenPrivateCodec):
    """Explains a refusal with the request it refused, token and all."""

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        self.last_sent = super().add_order(order, token)
        return self.last_sent

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        decoded = super().decode_frame(frame, received_ns)
        refused = [item for item in decoded if isinstance(item, Answer) and not item.ok]
        message = f"the venue refused {self.last_sent.text}" if refused else ""
        return decoded + (
            [ErrorEvent(exchange=self.exchange, message=message, ts_received=received_ns)] if refused else []
        )


class LogsFrames(KrakenPrivateCodec):
    """Logs every order request it encodes, for debugging."""

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        frame = super().add_order(order, token)
        logging.getLogger("xfeeds.kraken").debug("add_order: %s", frame.text)
        return frame


def planted(codec: type[TradingCodec]) -> Adapter:
    kraken = registry.get("kraken")
    assert kraken.trading is not None
    return replace(kraken, trading=replace(kraken.trading, codec=codec))


class Plant(NamedTuple):
    codec: type[TradingCodec]
    check: str
    """The conformance test method that must fail."""
    rule: str
    """What its assertion message says (a regular expression)."""


PLANTED: dict[str, Plant] = {
    "a codec that drops the fills of a snapshot": Plant(
        DropsSnapshotFills, "test_fills_arrive_exactly_once_across_a_reconnect", "never arrived after the reconnect"
    ),
    "an account that re-sends a lost order on reconnect": Plant(
        ResendsOnReconnect, "test_an_order_whose_reply_was_lost_is_never_sent_again", "reached the venue 2 times"
    ),
    "a token in an ErrorEvent": Plant(TokenInErrors, "test_no_secret_is_ever_shown", "issued secret #1 is shown"),
    "a token in a log line": Plant(LogsFrames, "test_no_secret_is_ever_shown", "issued secret #1 is shown"),
}


class Planted(TradingConformance):
    """The trading suite run against one adapter that is not the registered one."""

    adapter_name = "kraken"
    symbol = "BTC/USD"
    planted: ClassVar[Adapter]

    @property
    def adapter(self) -> Adapter:
        return self.planted


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_the_trading_suite_catches(bug: str, anyio_backend: str) -> None:
    codec, check, rule = PLANTED[bug]
    suite = type("PlantedSuite", (Planted,), {"planted": planted(codec)})()
    with pytest.raises(AssertionError, match=rule):
        getattr(suite, check)(anyio_backend)


def test_a_check_past_its_budget_fails_naming_its_step(anyio_backend: str) -> None:
    """No check can hang: past ``check_budget`` it fails and says what it was waiting for."""
    suite = type("Hasty", (Planted,), {"planted": registry.get("kraken"), "check_budget": 0.3})()
    with pytest.raises(AssertionError, match=r"did not finish within 0.3 s; the last step begun was \w+"):
        suite.test_fills_arrive_exactly_once_across_a_reconnect(anyio_backend)
