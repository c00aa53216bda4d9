"""Kraken's REST authentication, sans-I/O: the ``API-Sign`` signature, nonces, and the
``GetWebSocketsToken`` request and reply that open ``wss://ws-auth.kraken.com/v2``.

Nothing here sends or waits: the caller passes the time in, sends the request it is given over
HTTPS, and hands the reply body back. Kraken's REST signing is the same for its v1 and v2 sockets,
but only the v2 adapter trades (v1 is frozen), so this lives beside v2 rather than in
``kraken_common``.

What the code that connects the private socket must do with it (Kraken's documentation and the
failures of other libraries agree on each point):

- **A fresh token for every connection, reconnects included.** A token must be used within
  ``expires`` seconds (900) of its creation; after that it lives as long as its socket keeps a
  private subscription, but Kraken does invalidate tokens server-side (after upgrades), so a token
  cached across reconnects fails exactly when the connection is being rebuilt. Never cache one for
  the process.
- **Single-flight fetching**: concurrent connects await one request instead of each fetching one;
  the fetch is a private REST call that spends the account's REST rate counter, and a burst of them
  ends in ``EGeneral:Temporary lockout`` (about 15 minutes).
- **A stale token mid-session** (``EAPI:Invalid token``, ``ESession:Invalid session``) does not close
  the socket: fetch a new token and re-send the private subscriptions with it.
- **Nonces strictly increase per API key**, across every process using the key. ``NonceSource``
  keeps one process's nonces increasing in nanoseconds; another program sharing the key with
  millisecond nonces, or two processes racing, gets ``EAPI:Invalid nonce`` (Kraken's per-key nonce
  window setting tolerates small reorderings). Such an error is worth one retry with a new nonce:
  a token request places nothing, so repeating it is safe, unlike an order.
- **The key needs the "WebSocket interface" permission**; without it the reply carries
  ``EGeneral:Permission denied`` and no result, which ``parse_token_reply`` reports by name.
- **The token is a credential**: it travels in ``params.token`` of every private request and must
  not reach a log line, ``repr``, event or exception; ``SessionToken`` holds it in a ``Secret``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from importlib.metadata import version
from typing import Protocol, TypeVar
from urllib.parse import urlencode

import msgspec

from sdk.credentials import Credentials, Secret
from sdk.trading_contract import RestRequest, SessionToken, TokenRequestFailed

DEFAULT_REST_URL = "https://api.kraken.com"
TOKEN_PATH = "/0/private/GetWebSocketsToken"
USER_AGENT = f"xfeeds/{version('xfeeds')}"
"""Kraken requires a User-Agent on every REST request; naming the client helps its support."""


def api_sign(credentials: Credentials, uri_path: str, nonce: int, post_data: str) -> str:
    """The ``API-Sign`` header: base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body))).

    ``post_data`` must be exactly the urlencoded body sent, its ``nonce=`` field included.
    """
    try:
        key = base64.b64decode(credentials.secret.reveal(), validate=True)
    except binascii.Error:
        raise ValueError("the Kraken API secret is not valid base64 (copy it again from the key's page)") from None
    digest = hashlib.sha256(f"{nonce}{post_data}".encode()).digest()
    mac = hmac.new(key, uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")


def signed_request(
    credentials: Credentials, path: str, nonce: int, rest_url: str, fields: dict[str, str] | None = None
) -> RestRequest:
    """The signed ``POST {rest_url}{path}`` of a private REST method, body ``nonce=...`` then ``fields``."""
    body = urlencode({"nonce": nonce, **(fields or {})})
    headers = (
        ("API-Key", credentials.key),
        ("API-Sign", api_sign(credentials, path, nonce, body)),
        ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ("User-Agent", USER_AGENT),
    )
    return RestRequest("POST", rest_url.rstrip("/") + path, headers, body.encode("ascii"))


def token_request(credentials: Credentials, nonce: int, rest_url: str = DEFAULT_REST_URL) -> RestRequest:
    """The signed ``POST {rest_url}/0/private/GetWebSocketsToken`` with body ``nonce=...``."""
    return signed_request(credentials, TOKEN_PATH, nonce, rest_url)


class _TokenResult(msgspec.Struct):
    token: str
    expires: int


class _TokenReply(msgspec.Struct):
    error: list[str] = msgspec.field(default_factory=list)
    result: _TokenResult | None = None


_TOKEN_REPLY = msgspec.json.Decoder(_TokenReply)


class RestReply(Protocol):
    """What every Kraken REST reply has: its ``error`` list (empty on success)."""

    error: list[str]


R = TypeVar("R", bound=RestReply)


def read_reply(decoder: msgspec.json.Decoder[R], body: bytes | str, what: str) -> R:
    """A REST reply decoded; ``TokenRequestFailed`` naming ``what`` when it is unreadable or refused.

    Kraken answers errors with HTTP 200 and an ``error`` list. Its entries starting with ``W`` are
    warnings, which do not fail a reply that carries a result.
    """
    try:
        reply = decoder.decode(body)
    except msgspec.DecodeError as error:
        raise TokenRequestFailed(f"Kraken's reply to the {what} is unreadable: {error}") from None
    errors = tuple(text for text in reply.error if not text.startswith("W"))
    if errors:
        raise TokenRequestFailed(f"Kraken refused the {what}: {'; '.join(errors)}", errors)
    return reply


def parse_token_reply(body: bytes | str) -> SessionToken:
    """The token in a ``GetWebSocketsToken`` reply body; ``TokenRequestFailed`` if there is none."""
    reply = read_reply(_TOKEN_REPLY, body, "token request")
    if reply.result is None or not reply.result.token:
        raise TokenRequestFailed("Kraken's token reply holds no token (does the key allow the WebSocket interface?)")
    return SessionToken(Secret(reply.result.token), reply.result.expires)
