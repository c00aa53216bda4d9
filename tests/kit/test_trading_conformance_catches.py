"""The trading conformance suite catches contract bugs: each planted in a built-in adapter (Kraken,
which trades with a REST token, and Midchains, which logs in on its socket) as a few changed
methods of its private codec makes its check fail (the unmodified adapters pass the same checks in
``test_trading_conformance.py``).

Each bug is written once, as a mixin over ``TradingCodec``, and planted in each venue's codec by
putting it first in the bases: ``type(name, (Bug, KrakenPrivateCodec), {})``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, ClassVar, NamedTuple

import pytest

from adapters.kraken.private import KrakenPrivateCodec
from adapters.midchains.private import MidchainsPrivateCodec
from schemas.events import ErrorEvent
from schemas.trading import Fill, OrderRequest
from sdk import registry
from sdk.contract import Adapter
from sdk.credentials import Credentials, Secret
from sdk.testing import TradingConformance
from sdk.trading_contract import Answer, Challenge, Decoded, SignedFrame, TradingCodec

pytestmark = pytest.mark.loopback


class DropsReplayedFills(TradingCodec):
    """Skips the fills of the frames that re-send fills after a reconnect (Kraken's executions
    snapshot, Midchains' ``querytrade`` reply), as if they only re-sent old ones."""

    replayed: ClassVar[str]
    """What marks such a frame in its text."""

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        decoded = super().decode_frame(frame, received_ns)
        text = frame.decode() if isinstance(frame, bytes) else frame
        return [item for item in decoded if not (type(item) is Fill and self.replayed in text)]


class ResendsOnReconnect(TradingCodec):
    """Places again, on the new connection, every order whose reply the old one lost."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
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
        place_unrecorded = super().add_order
        resent = [place_unrecorded(order, token) for order in self.lost]
        self.lost.clear()
        return super().subscribe_private(token) + resent


class SecretInErrors(TradingCodec):
    """Explains a refusal with what was sent: the last order request, token and all, or for a
    venue that logs in on its socket the login it was sent under, password and all."""

    last_sent = ""

    def login(self, credentials: Credentials, challenge: Challenge) -> SignedFrame:
        self.last_sent = f"login {credentials.secret.reveal()}"
        return super().login(credentials, challenge)

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        frame = super().add_order(order, token)
        if token is not None:
            self.last_sent = frame.text
        return frame

    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        decoded = super().decode_frame(frame, received_ns)
        refused = [item for item in decoded if isinstance(item, Answer) and not item.ok]
        message = f"the venue refused a request after {self.last_sent}" if refused else ""
        return decoded + (
            [ErrorEvent(exchange=self.exchange, message=message, ts_received=received_ns)] if refused else []
        )


class LogsSecrets(TradingCodec):
    """Logs, for debugging, every order request it encodes (each carries the session token) and
    the password it seals for a login on the socket."""

    def login(self, credentials: Credentials, challenge: Challenge) -> SignedFrame:
        logging.getLogger(f"xfeeds.{self.exchange}").debug("sealing the password %s", credentials.secret.reveal())
        return super().login(credentials, challenge)

    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        frame = super().add_order(order, token)
        logging.getLogger(f"xfeeds.{self.exchange}").debug("add_order: %s", frame.text)
        return frame


class Venue(NamedTuple):
    codec: type[TradingCodec]
    symbol: str
    replayed: str
    """What marks the frames that re-send fills after a reconnect."""
    secret: str
    """What the conformance check calls the secret a leak shows."""


VENUES: dict[str, Venue] = {
    "kraken": Venue(KrakenPrivateCodec, "BTC/USD", '"type":"snapshot"', "issued secret #1"),  # the session token
    "midchains": Venue(MidchainsPrivateCodec, "BCH/USD", '"type":"querytrade"', "API secret"),  # the password
}


class Bug(NamedTuple):
    mixin: type[TradingCodec]
    check: str
    """The conformance test method that must fail."""
    rule: str
    """What its assertion message says (a regular expression; ``{secret}`` is the venue's secret)."""


BUGS: dict[str, Bug] = {
    "a codec that drops the fills replayed after a reconnect": Bug(
        DropsReplayedFills, "test_fills_arrive_exactly_once_across_a_reconnect", "never arrived after the reconnect"
    ),
    "an account that re-sends a lost order on reconnect": Bug(
        ResendsOnReconnect, "test_an_order_whose_reply_was_lost_is_never_sent_again", "reached the venue 2 times"
    ),
    "a secret in an ErrorEvent": Bug(SecretInErrors, "test_no_secret_is_ever_shown", "the {secret} is shown"),
    "a secret in a log line": Bug(LogsSecrets, "test_no_secret_is_ever_shown", "the {secret} is shown"),
}


def planted(venue: str, mixin: type[TradingCodec]) -> Adapter:
    """The registered adapter ``venue`` with ``mixin`` planted in its trading codec."""
    adapter = registry.get(venue)
    assert adapter.trading is not None
    own = VENUES[venue]
    codec = type(f"{mixin.__name__}{own.codec.__name__}", (mixin, own.codec), {"replayed": own.replayed})
    return replace(adapter, trading=replace(adapter.trading, codec=codec))


class Planted(TradingConformance):
    """The trading suite run against one adapter that is not the registered one."""

    adapter_name = "kraken"
    symbol = "BTC/USD"
    planted: ClassVar[Adapter]

    @property
    def adapter(self) -> Adapter:
        return self.planted


@pytest.mark.parametrize("venue", sorted(VENUES))
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_trading_suite_catches(bug: str, venue: str, anyio_backend: str) -> None:
    mixin, check, rule = BUGS[bug]
    attributes = {"planted": planted(venue, mixin), "adapter_name": venue, "symbol": VENUES[venue].symbol}
    suite = type("PlantedSuite", (Planted,), attributes)()
    with pytest.raises(AssertionError, match=rule.format(secret=VENUES[venue].secret)):
        getattr(suite, check)(anyio_backend)


def test_a_check_past_its_budget_fails_naming_its_step(anyio_backend: str) -> None:
    """No check can hang: past ``check_budget`` it fails and says what it was waiting for."""
    suite = type("Hasty", (Planted,), {"planted": registry.get("kraken"), "check_budget": 0.3})()
    with pytest.raises(AssertionError, match=r"did not finish within 0.3 s; the last step begun was \w+"):
        suite.test_fills_arrive_exactly_once_across_a_reconnect(anyio_backend)
