"""What an exchange adapter provides to trade: the private codec and how an account authenticates.

The market-data ``Adapter`` (``sdk.contract``) gains an optional ``trading`` part. Its codec is
sans-I/O like the market codecs: requests in, signed frames out; frames in, trading events out,
plus what only the account session reads: ``Answer`` (the venue's reply to one request, matched by
request id), ``SnapshotDone`` (a private channel's snapshot has arrived, so the account's state is
rebuilt for that part), and for venues that log in on the socket itself ``Challenge``,
``LoggedIn`` and ``LookupAnswer``.

Venues authenticate one of two ways. With a REST token (Kraken), the ``Authenticator`` turns
credentials into the REST requests that fetch a session token and look up orders, and the driver
sends them; every request frame carries the token. In band (Midchains), the adapter has no
``Authenticator``: the codec opens the session on the socket (``open_session``), answers the
venue's ``Challenge`` with a ``login`` frame, reports ``LoggedIn``, and looks orders up with
``query_order`` frames answered by ``LookupAnswer``; the token passed to its methods is None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from schemas.events import Instrument
from schemas.trading import OrderRequest, OrderUpdate, TradingEvent
from sdk.credentials import Credentials, Secret
from sdk.pacing import RequestLimit
from sdk.ratelimit import RateTier, TradingRateCounter
from sdk.symbols import SymbolMap


@dataclass(frozen=True, slots=True)
class SignedFrame:
    """A request frame carrying the session token: ``text`` is what to send, and is left out of
    the repr so a logged request never shows the token. ``replies`` is how many replies the venue
    sends to it (one per order a cancel names, for instance)."""

    method: str
    req_id: int
    text: str = field(repr=False)
    replies: int = 1


@dataclass(frozen=True, slots=True)
class Answer:
    """The venue's reply to one request: ``ok``, or refused with the venue's own ``error`` text.

    ``updates`` are the orders a placement reply settles (``pending_new`` with the venue's id, or
    ``rejected``); ``count`` is how many orders a cancel-all cancelled; ``trigger_ns`` when a dead
    man's switch will fire (None: disarmed).
    """

    req_id: int
    method: str
    ok: bool
    error: str | None = None
    updates: tuple[OrderUpdate, ...] = ()
    count: int | None = None
    trigger_ns: int | None = None


@dataclass(frozen=True, slots=True)
class SnapshotDone:
    """A private channel's snapshot has been decoded: ``orders`` (open orders and recent fills,
    with the venue ids of the orders open) or ``balances``."""

    channel: Literal["orders", "balances"]
    open_orders: tuple[str, ...] = ()
    failed: str | None = None
    """The venue's text when it refused the snapshot: the account cannot be rebuilt on this
    socket, which is then replaced (a fresh connection asks again)."""


@dataclass(frozen=True, slots=True, repr=False)
class Challenge:
    """What an in-band login needs from this connection (Midchains: the RSA public key to encrypt
    the password with)."""

    key: str

    def __repr__(self) -> str:
        return f"Challenge(key={len(self.key)} characters)"


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """The venue's answer to an in-band login: ``ok``, or refused with its ``error`` text."""

    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LookupAnswer:
    """An in-band order lookup answered: where the order named by ``client_order_id`` stands, None
    when the venue shows no such order. ``heuristic`` says the venue did not echo the client id and
    the order was matched by its terms (symbol, side, quantity, price, time), which may be wrong.
    ``failed`` is the venue's text when it refused the lookup itself (a rate limit): that proves
    nothing about the order, which stays in doubt and is looked up again."""

    client_order_id: str
    found: OrderUpdate | None
    heuristic: bool = False
    failed: str | None = None


Decoded = TradingEvent | Instrument | Answer | SnapshotDone | Challenge | LoggedIn | LookupAnswer
"""What a trading codec makes of a frame."""


class TradingCodec(ABC):
    """One account's private protocol: encodes requests with the session token, decodes frames.

    The codec lives as long as the account, across reconnects: it remembers the orders it has
    seen (to fill in sparse updates) and the fills it has delivered (to deliver each once).
    ``decode_frame`` raises ``WireValueError`` for a frame it cannot read and is then as before it.
    """

    exchange: str

    def open_session(self) -> list[SignedFrame]:
        """Frames to send as soon as the socket opens, before any authentication (an in-band
        login's challenge request); none for a venue authenticated by a REST token."""
        return []

    def close_session(self) -> list[SignedFrame]:
        """Frames that end the session politely before the socket closes (an in-band logout)."""
        return []

    def login(self, credentials: Credentials, challenge: Challenge) -> SignedFrame:
        """The in-band login answering ``challenge``; only venues without an ``Authenticator``."""
        raise NotImplementedError(f"{self.exchange} authenticates with a session token, not on the socket")

    def query_order(self, order: OrderUpdate, token: Secret | None) -> SignedFrame:
        """An in-band lookup of ``order`` (as last known), answered by a ``LookupAnswer``; only
        venues without an ``Authenticator``, whose lookups go over REST."""
        raise NotImplementedError(f"{self.exchange} looks orders up over REST")

    @abstractmethod
    def subscribe_private(self, token: Secret | None) -> list[SignedFrame]:
        """The frames that start an authenticated connection: the private channels with their
        snapshots, and the reference data the pre-trade check needs."""

    @abstractmethod
    def add_order(self, order: OrderRequest, token: Secret | None) -> SignedFrame:
        """Place ``order``; its ``Answer`` carries the order's first update."""

    def batch_add(self, orders: Sequence[OrderRequest], token: Secret | None) -> SignedFrame:
        """Place several orders in one request; a venue without batches raises ``NotImplementedError``."""
        raise NotImplementedError(f"{self.exchange} places orders one by one (no batch request)")

    @abstractmethod
    def amend_order(
        self,
        token: Secret | None,
        *,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> SignedFrame:
        """Change an open order in place (it keeps its ids)."""

    @abstractmethod
    def cancel_order(
        self, token: Secret | None, *, venue_order_ids: Sequence[str] = (), client_order_ids: Sequence[str] = ()
    ) -> SignedFrame:
        """Cancel orders named by one kind of id."""

    @abstractmethod
    def cancel_all(self, token: Secret | None) -> SignedFrame:
        """Cancel every open order of the account."""

    @abstractmethod
    def cancel_all_orders_after(self, timeout_s: int, token: Secret | None) -> SignedFrame:
        """Arm (0: disarm) the venue's dead man's switch."""

    @abstractmethod
    def decode_frame(self, frame: bytes | str, received_ns: int) -> list[Decoded]:
        """Everything one received frame says."""

    @abstractmethod
    def forget_requests(self) -> None:
        """The connection is gone: replies to requests sent on it will never come."""

    @abstractmethod
    def token_rejected(self, error: str) -> bool:
        """Whether a refusal says the session token is no longer valid (fetch a new one)."""

    @abstractmethod
    def rate_limited(self, error: str) -> bool:
        """Whether a refusal is the venue's trading rate limit."""


class NonceSource:
    """Strictly increasing nonces in nanoseconds, from the wall-clock time passed in.

    The clock may stand still or step back (NTP); the nonce still moves forward by at least one.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def next_nonce(self, now_ns: int) -> int:
        """A nonce greater than every one returned before; ``now_ns`` is ``time.time_ns()``."""
        self._last = max(now_ns, self._last + 1)
        return self._last


@dataclass(frozen=True, slots=True, repr=False)
class RestRequest:
    """An HTTP request to send as is; its repr leaves out the headers, which carry the key and signature."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def __repr__(self) -> str:
        return f"RestRequest({self.method} {self.url})"


@dataclass(frozen=True, slots=True)
class SessionToken:
    """A token for the venue's authenticated socket; ``expires`` is how many seconds it has to be used in."""

    token: Secret
    expires: int


class Authenticator(ABC):
    """The venue's REST side of trading, sans-I/O: requests to send, and readers of their replies.

    ``nonce`` is the strictly increasing number the venue requires of each signed request.
    """

    @abstractmethod
    def token_request(self, credentials: Credentials, nonce: int, rest_url: str) -> RestRequest:
        """The signed request for a session token."""

    @abstractmethod
    def parse_token_reply(self, body: bytes) -> SessionToken:
        """The token in the reply; raises ``TokenRequestFailed`` naming the venue's reason."""

    @abstractmethod
    def order_query(self, credentials: Credentials, nonce: int, rest_url: str, client_order_id: str) -> RestRequest:
        """The signed request for the venue's record of one order named by the client's id
        (an order the executions snapshot does not show)."""

    @abstractmethod
    def parse_order_query(self, body: bytes, order: OrderUpdate, received_ns: int) -> OrderUpdate | None:
        """Where ``order`` (as last known) stands by the venue's reply to ``order_query``; None
        when the venue has no record of it. Raises ``TokenRequestFailed`` for a refused or
        unreadable reply."""


class TokenRequestFailed(Exception):
    """The venue refused a REST request (the token's, or an order lookup), or its reply could not be read.

    ``errors`` holds the venue's error texts (e.g. ``EAPI:Invalid key``), empty when the reply was
    unreadable. The message names them; it never quotes the reply, which may hold a token.
    """

    def __init__(self, reason: str, errors: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class TradingAdapter:
    """Everything the account core needs to know about one venue's trading protocol."""

    default_url: str
    """The authenticated WebSocket endpoint."""
    default_rest_url: str
    """The REST base the session token (and order lookups) come from."""
    codec: Callable[[str, SymbolMap], TradingCodec]
    authenticator: Authenticator | None
    """REST token and order lookups; None for a venue that logs in and answers lookups on the socket."""
    rate_counter: Callable[[RateTier], TradingRateCounter]
    """A fresh emulation of the venue's trading rate counter at a tier's numbers."""
    rate_tier: RateTier
    """The tier an account gets unless told its own (the venue's lowest, the safe guess)."""
    request_limit: RequestLimit | None = None
    """The venue's limit on private requests of any kind; the account paces its frames to it."""
    login_window_s: float | None = None
    """How long the venue gives a socket to log in on it (Midchains: 30 s); the account drops a
    socket whose login has not completed by then rather than wait for the venue to."""
    shares_market_socket: bool = False
    """Market data and trading share one socket (Midchains): an account then carries market data
    on its own socket; elsewhere market data has a socket of its own (``sdk.connect``)."""
