"""Kraken's REST API as the local simulator answers it: ``GetWebSocketsToken`` (the key, the
``API-Sign`` signature and the nonce checked as Kraken checks them) and ``ClosedOrders`` (how a
client reconciles an order that left the book while it was away).

Sans-I/O: an ``HttpRequest`` and the time in, an ``HttpResponse`` out. Errors are Kraken's: HTTP
200 with an ``error`` list.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import msgspec

from adapters.kraken.auth import TOKEN_PATH, api_sign
from sdk.credentials import Credentials
from sdk.simulation.http import HttpRequest, HttpResponse
from sdk.simulation.matching import MatchingEngine, Order

CLOSED_ORDERS_PATH = "/0/private/ClosedOrders"
TOKEN_EXPIRES_S = 900

_STATUS = {"filled": "closed", "canceled": "canceled", "expired": "expired"}
"""Engine status of a closed order -> Kraken REST ``status``."""


class KrakenRest:
    """The private REST endpoints of the simulator's accounts, and the tokens it has issued."""

    def __init__(self, accounts: Mapping[str, str], engine: MatchingEngine) -> None:
        self.credentials = {key: Credentials(key=key, secret=secret) for key, secret in accounts.items()}
        self.engine = engine
        self.refuse_tokens: str | None = None
        """When set, every token request is refused with this Kraken error (e.g. ``EGeneral:Temporary lockout``)."""
        self._nonces: dict[str, int] = {}
        self._tokens: dict[str, str] = {}
        self.issued: list[str] = []
        """Every token ever issued, in order (tests search for them where they must never appear)."""
        self._encoder = msgspec.json.Encoder()

    def account_of(self, token: str | None) -> str | None:
        """The API key ``token`` was issued to, or None for a token never issued or invalidated."""
        return self._tokens.get(token or "")

    def invalidate_tokens(self) -> int:
        """Forget every token issued (as a Kraken upgrade does); returns how many."""
        count = len(self._tokens)
        self._tokens.clear()
        return count

    def answer(self, request: HttpRequest, now_ns: int) -> HttpResponse:
        if request.method != "POST" or request.target not in (TOKEN_PATH, CLOSED_ORDERS_PATH):
            return self._reply(["EGeneral:Unknown method"], status=404 if not request.target.startswith("/0/") else 200)
        form = {name: values[-1] for name, values in parse_qs(request.body.decode("ascii", "replace")).items()}
        key = request.headers.get("api-key", "")
        error = self._authentication_error(request, key, form)
        if error is not None:
            return self._reply([error])
        if request.target == TOKEN_PATH:
            if self.refuse_tokens is not None:
                return self._reply([self.refuse_tokens])
            token = secrets.token_urlsafe(32)
            self._tokens[token] = key
            self.issued.append(token)
            return self._reply([], {"token": token, "expires": TOKEN_EXPIRES_S})
        closed = [o for o in self.engine.closed_orders(key) if form.get("cl_ord_id") in (None, o.spec.client_id)]
        return self._reply([], {"closed": {o.venue_id: _closed(o) for o in closed}, "count": len(closed)})

    def _authentication_error(self, request: HttpRequest, key: str, form: dict[str, str]) -> str | None:
        credentials = self.credentials.get(key)
        if credentials is None:
            return "EAPI:Invalid key"
        try:
            nonce = int(form["nonce"])
            expected = api_sign(credentials, request.target, nonce, request.body.decode("ascii"))
        except (KeyError, ValueError, UnicodeDecodeError):
            return "EAPI:Invalid nonce"
        if not secrets.compare_digest(expected, request.headers.get("api-sign", "")):
            return "EAPI:Invalid signature"
        if nonce <= self._nonces.get(key, 0):
            return "EAPI:Invalid nonce"
        self._nonces[key] = nonce
        return None

    def _reply(self, errors: list[str], result: dict[str, Any] | None = None, *, status: int = 200) -> HttpResponse:
        body: dict[str, Any] = {"error": errors}
        if result is not None:
            body["result"] = result
        return HttpResponse(status, self._encoder.encode(body))


def _closed(order: Order) -> dict[str, Any]:
    """One ``ClosedOrders`` entry; REST numbers are strings."""
    spec = order.spec
    price = str(spec.price) if spec.price is not None else "0"
    volume = str(spec.qty if spec.qty is not None else spec.quote_qty)
    pair = spec.symbol.replace("/", "")
    return {
        "refid": None,
        "userref": 0,
        "cl_ord_id": spec.client_id,
        "status": _STATUS[order.status],
        "reason": order.reason,
        "opentm": order.created_ns / 1e9,
        "closetm": (order.closed_ns or order.created_ns) / 1e9,
        "starttm": 0,
        "expiretm": 0,
        "descr": {
            "pair": pair,
            "type": spec.side,
            "ordertype": spec.kind,
            "price": price,
            "price2": "0",
            "leverage": "none",
            "order": f"{spec.side} {volume} {pair} @ {spec.kind} {price}",
            "close": "",
        },
        "vol": volume,
        "vol_exec": str(order.filled),
        "cost": str(order.cost),
        "fee": str(order.fees),
        "price": str(order.avg_price if order.filled else Decimal(0)),
        "stopprice": "0",
        "limitprice": "0",
        "misc": "",
        "oflags": "fciq" + (",post" if spec.post_only else ""),
    }
