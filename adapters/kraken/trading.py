"""Kraken v2 trading: the authenticated socket, the REST base its tokens come from, and the
authenticator that signs those REST requests."""

from __future__ import annotations

from adapters.kraken.auth import DEFAULT_REST_URL, parse_token_reply, token_request
from adapters.kraken.order_query import closed_orders_request, parse_closed_orders
from adapters.kraken.private import KrakenPrivateCodec
from adapters.kraken.ratelimits import STARTER, trading_rate_counter
from schemas.trading import OrderUpdate
from sdk.credentials import Credentials
from sdk.trading_contract import Authenticator, RestRequest, SessionToken, TradingAdapter

AUTH_URL = "wss://ws-auth.kraken.com/v2"


class KrakenAuthenticator(Authenticator):
    """``GetWebSocketsToken`` for the token, ``ClosedOrders`` to look an order up by its client id."""

    def token_request(self, credentials: Credentials, nonce: int, rest_url: str) -> RestRequest:
        return token_request(credentials, nonce, rest_url)

    def parse_token_reply(self, body: bytes) -> SessionToken:
        return parse_token_reply(body)

    def order_query(self, credentials: Credentials, nonce: int, rest_url: str, client_order_id: str) -> RestRequest:
        return closed_orders_request(credentials, nonce, rest_url, client_order_id)

    def parse_order_query(self, body: bytes, order: OrderUpdate, received_ns: int) -> OrderUpdate | None:
        return parse_closed_orders(body, order, received_ns)


trading = TradingAdapter(
    default_url=AUTH_URL,
    default_rest_url=DEFAULT_REST_URL,
    codec=KrakenPrivateCodec,
    authenticator=KrakenAuthenticator(),
    rate_counter=trading_rate_counter,
    rate_tier=STARTER,
)
