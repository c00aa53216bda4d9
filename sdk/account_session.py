"""The rules of a trading account, sans-I/O: requests out, frames in, events and settlements back.

``AccountSession`` holds everything an account must get right and nothing that waits: which
requests await which replies, which orders are open, which are ``unknown`` because their reply
was lost, the balances, the instrument data the pre-trade check reads, and when the private state
counts as rebuilt after a (re)connect. Its driver (``sdk.account``) feeds it frames, times and
tokens, sends what it queues and wakes the callers its settlements name.

The safety rules live here, once for every venue:

- **An order request is never sent twice.** No path re-sends a placement: a reply lost with the
  socket (or late beyond ``reply_timeout``, which drops the socket as dead) leaves the order
  ``unknown``; the executions snapshot after the reconnect settles it, and an order the snapshot
  does not show is looked up in the venue's order records (a REST query the driver sends) before
  it is called not placed.
- **Nothing is ready before it is rebuilt.** After each connect ``AccountReady`` is emitted only
  once both snapshots (and, the first time, the instrument data) arrived and every order in doubt
  is settled; until then requests are refused
  (``AccountNotReady``) rather than queued to go out later on a state the user has not seen.
- **Fills once.** The codec lives as long as the account and keeps the ids of the fills it
  delivered (Kraken's: the last 4,096, far more than the 50 a snapshot re-sends), so a snapshot that
  re-sends fills delivers only the ones made while away.
- **One socket, one connection story.** Where the venue carries market data on the trading
  socket (Midchains), a market ``FeedSession`` started by the first market subscription reads
  every frame beside the trading codec; the connection events are the account's, said once.
- **Only possible moves.** Every order update goes through ``sdk.orders.apply`` whatever the
  adapter: an impossible one (``filled`` back to ``new``, a filled quantity going down) is reported
  as an ``ErrorEvent`` and the order stays as it was.
"""

from __future__ import annotations

import logging
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

import msgspec

from schemas.events import Disconnected, ErrorEvent, Event, Instrument, Reconnected
from schemas.trading import AccountReady, Balance, Fill, OrderRequest, OrderUpdate, TradingEvent
from sdk.books import BookView, ReadOnLoop, read_here
from sdk.contract import Adapter, frame_error
from sdk.credentials import Credentials, Secret
from sdk.errors import AccountNotReady, OutcomeUnknown, RateLimited, RequestRejected
from sdk.orders import FINAL, OrderTransitionError, apply, requested
from sdk.pretrade import check_order
from sdk.ratelimit import TradingRateCounter
from sdk.reconnect import ReconnectPolicy
from sdk.session import NEVER, FeedSession, FeedSettings
from sdk.trading_contract import (
    Answer,
    Challenge,
    LoggedIn,
    LookupAnswer,
    SignedFrame,
    SnapshotDone,
    TradingCodec,
)
from sdk.wiretext import WireValueError

logger = logging.getLogger("xfeeds.account")

AccountState = Literal["connecting", "rebuilding", "ready", "disconnected"]

AccountEvent = TradingEvent | Event
"""What an account yields: its trading events and, where the venue shares the socket, market data."""

MARKET_ON_ACCOUNT: Final = FeedSettings(idle_timeout=math.inf)
"""The market rules on an account's socket: the account judges the socket by its replies, so a
socket quiet while nothing is subscribed is not dropped; streams are still judged stale."""

NOT_PLACED: Final = "the venue has no record of this order after reconnecting: it was not placed"
VALIDATED: Final = "validate only: the venue accepted the order and placed nothing"


@dataclass(eq=False)
class Pending:
    """One request awaiting the venue: settled with ``updates``, ``result`` or ``error`` by the session.

    ``updates`` are the ``OrderUpdate``s that settle a placement, one per order in the order sent;
    ``result`` is the ``Answer`` of any other request. ``replies`` counts the replies still to come
    (a cancel of several orders gets one each).
    """

    method: str
    req_id: int
    sent_at: float | None = None
    replies: int = 1
    orders: tuple[OrderRequest, ...] = ()
    symbols: tuple[str, ...] = ()
    """Symbols of the orders an amend or cancel names, where known (their rate counters)."""
    group: bool = False
    """Several requests settle this one (a cancel-all emulated by one cancel per order); it
    settles when all are answered, with how many succeeded."""
    succeeded: int = 0
    updates: tuple[OrderUpdate, ...] = ()
    result: Answer | None = None
    error: Exception | None = None
    done: bool = False

    def settle(
        self, *, updates: tuple[OrderUpdate, ...] = (), result: Answer | None = None, error: Exception | None = None
    ) -> None:
        self.updates, self.result, self.error, self.done = updates, result, error, True


@dataclass(frozen=True, slots=True)
class OrderLookup:
    """An order in doubt the driver must look up in the venue's records (REST)."""

    order: OrderUpdate
    """The order as last known; its ``client_order_id`` names it at the venue."""


@dataclass
class AccountStats:
    """Counters of one account, for monitoring."""

    orders_sent: int = 0
    replies: int = 0
    fills: int = 0
    unknown: int = 0
    reconciled: int = 0
    reconnects: int = 0
    tokens_fetched: int = 0
    tokens_rejected: int = 0
    decode_errors: int = 0
    rate_limited: int = 0


@dataclass
class _Rebuild:
    """What a (re)connect still waits for before the account is ready."""

    orders: bool = False
    balances: bool = False
    lookups: set[str] = field(default_factory=set)
    """Client ids of orders in doubt whose lookup has not answered yet."""


class AccountSession:
    """The account's state and rules; every method takes the time and returns what follows.

    ``now`` is a monotonic clock in seconds, ``wall_ns`` the wall-clock time in ns that events
    are stamped with.
    """

    def __init__(
        self,
        codec: TradingCodec,
        rates: TradingRateCounter,
        *,
        reply_timeout: float = 10.0,
        reconnect: ReconnectPolicy | None = None,
        lookup_retry: float = 5.0,
        lookup_attempts: int = 3,
        seed: int | None = None,
        login: Credentials | None = None,
        login_window: float | None = None,
        market_adapter: Adapter | None = None,
    ) -> None:
        self.codec = codec
        self._market_adapter = market_adapter
        self.market: FeedSession | None = None
        """The market data carried on this socket (where ``market_adapter`` says the venue shares
        it), from the first market subscription on."""
        self._login = login
        """Credentials for a venue that logs in on the socket (and looks orders up there); None for
        one authenticated by a REST token, whose lookups the driver sends over REST."""
        self.rates = rates
        """The venue's trading rate counter, emulated: what would go over is refused unsent."""
        self._fill_tally: dict[str, list[Decimal]] = {}
        """Orders seen from their start, by venue id: [filled quantity, quantity of fills delivered]."""
        self._seen_at: dict[str, float] = {}
        """When each open order was first seen (monotonic): amend and cancel costs depend on age."""
        self.exchange = codec.exchange
        self.reply_timeout = reply_timeout
        self.policy = reconnect or ReconnectPolicy()
        self.lookup_retry = lookup_retry
        self.lookup_attempts = lookup_attempts
        self._rng = random.Random(seed)
        self.state: AccountState = "connecting"
        self.stats = AccountStats()
        self.instruments: dict[str, Instrument] = {}
        self.balances: dict[tuple[str, str | None], Balance] = {}
        self.orders: dict[str, OrderUpdate] = {}
        """Orders not final, by venue id (client id while the venue's is not known)."""
        self._token: Secret | None = None
        self.needs_token = False
        """The venue refused the token: the driver fetches a fresh one and calls ``token_received``."""
        self._outbox: list[SignedFrame] = []
        self._pending: dict[int, Pending] = {}
        self.settled: list[Pending] = []
        """Requests settled since the driver last looked (it wakes their callers)."""
        self._in_doubt: dict[str, OrderUpdate] = {}
        """Orders ``unknown`` or missing from a snapshot, by client id, until settled."""
        self._lookups: list[OrderLookup] = []
        self._lookup_due: dict[str, tuple[float, int]] = {}
        """Client id -> (when to look it up again, attempts so far)."""
        self._rebuild = _Rebuild()
        self._dead_man: int | None = None
        """The dead man's switch timeout last armed (re-armed on reconnect), None when disarmed."""
        self._dead_man_at: float | None = None
        """When a locally emulated dead man's switch fires (a venue without one)."""
        self._connected_at: float | None = None
        self._down_since: float | None = None
        self._backoff = 0
        self.drop_reason: str | None = None
        self.login_window = login_window
        self._login_due: float | None = None
        """When an in-band login must have completed on this socket."""
        self.login_refused: str | None = None
        """The venue's reason for refusing an in-band login; the connection is then dropped."""

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, now: float, wall_ns: int) -> list[AccountEvent]:
        """A socket is open; the session waits for a token to subscribe with, or logs in."""
        self.state = "connecting"
        self.drop_reason = None
        self._connected_at = now
        self._rebuild = _Rebuild()
        self._outbox.extend(self.codec.open_session())
        if self._login is not None and self.login_window is not None:
            self._login_due = now + self.login_window
        if self.market is not None:  # its subscriptions go out again; the Reconnected is the account's
            self.market.connection_made(now, wall_ns)
        events: list[AccountEvent] = []
        if self._down_since is not None:
            self.stats.reconnects += 1
            downtime = round((now - self._down_since) * 1e9)
            events.append(
                Reconnected(exchange=self.exchange, attempt=self._backoff, downtime=downtime, ts_received=wall_ns)
            )
            self._down_since = None
        return events

    def token_received(self, token: Secret | None) -> None:
        """A fresh session token (None: logged in on the socket): subscribe the private channels
        with it (again, after a refusal)."""
        self._token = token
        self.needs_token = False
        self._outbox.extend(self.codec.subscribe_private(token))
        if self.state == "connecting":
            self.state = "rebuilding"
            if self._dead_man is not None:  # an armed switch stays armed across reconnects
                self._send("cancel_all_orders_after", self.codec.cancel_all_orders_after(self._dead_man, token))

    def connection_lost(self, reason: str, now: float, wall_ns: int) -> list[AccountEvent]:
        """The socket is gone. Placements in flight become ``unknown``; other requests fail with
        ``OutcomeUnknown``. Nothing is re-sent."""
        events: list[AccountEvent] = []
        if self.market is not None:  # its books wait for fresh snapshots; the Disconnected is the account's
            self.market.connection_lost(reason, now, wall_ns)
        if self._connected_at is not None and now - self._connected_at >= self.policy.healthy_after:
            self._backoff = 0
        self._connected_at = None
        self._login_due = None
        self._down_since = now
        self.state = "disconnected"
        self._outbox.clear()
        self.codec.forget_requests()
        for pending in dict.fromkeys(self._pending.values()):  # a group appears once per part
            if pending.orders and pending.sent_at is None:  # still in the outbox: it never left
                events.extend(self._not_sent(pending, reason, wall_ns))
            elif pending.orders:
                events.extend(self._lost(pending, reason, wall_ns))
            else:
                pending.settle(
                    error=OutcomeUnknown(f"{pending.method}: the connection dropped before the reply ({reason})")
                )
                self.settled.append(pending)
        self._pending.clear()
        self._lookups.clear()
        self._lookup_due.clear()
        logger.warning("%s account: disconnected: %s", self.exchange, reason)
        events.append(Disconnected(exchange=self.exchange, reason=reason, ts_received=wall_ns))
        return events

    def _lost(self, pending: Pending, reason: str, wall_ns: int) -> list[TradingEvent]:
        """A placement whose reply will never come: each order is ``unknown`` until reconciled."""
        updates = [
            requested(
                self.exchange,
                order,
                "unknown",
                reason=f"reply lost with the connection ({reason})",
                received_ns=wall_ns,
            )
            for order in pending.orders
        ]
        for unknown in updates:
            assert unknown.client_order_id is not None
            self._in_doubt[unknown.client_order_id] = unknown
            self.orders[unknown.client_order_id] = unknown
            self.stats.unknown += 1
        pending.settle(updates=tuple(updates))
        self.settled.append(pending)
        return list(updates)

    def _not_sent(self, pending: Pending, reason: str, wall_ns: int) -> list[TradingEvent]:
        """A placement the connection dropped before it left: certainly not placed."""
        updates = [
            requested(
                self.exchange,
                order,
                "rejected",
                reason=f"not sent: the connection dropped first ({reason})",
                received_ns=wall_ns,
            )
            for order in pending.orders
        ]
        pending.settle(updates=tuple(updates))
        self.settled.append(pending)
        return list(updates)

    def closing(self) -> bool:
        """The user closes the account: queue the venue's goodbye (an in-band logout), if it has
        one and the session is up; True when there is something to send."""
        if self.state not in ("rebuilding", "ready"):
            return False
        frames = self.codec.close_session()
        self._outbox.extend(frames)
        return bool(frames)

    def reconnect_delay(self) -> float | None:
        """Seconds to wait before the next attempt; None once the policy gives up."""
        self._backoff += 1
        if self.policy.exhausted(self._backoff):
            return None
        return self.policy.delay(self._backoff, self._rng)

    def gave_up(self, wall_ns: int) -> Disconnected:
        """The final ``Disconnected`` once ``reconnect_delay`` said no more attempts."""
        reason = f"gave up after {self._backoff - 1} reconnect attempts"
        logger.error("%s account: %s", self.exchange, reason)
        return Disconnected(exchange=self.exchange, reason=reason, final=True, ts_received=wall_ns)

    # -- market data on the socket -------------------------------------------------------------

    def market_data(self, now: float, wall_ns: int) -> FeedSession:
        """The market session on this socket, started on first use (its subscriptions go out at
        once when connected, else with the next connection). ``LookupError`` where the venue's
        market data has a socket of its own."""
        adapter = self._require_market_adapter()
        if self.market is None:
            self.market = FeedSession(adapter, MARKET_ON_ACCOUNT)
            if self._connected_at is not None:
                self.market.connection_made(now, wall_ns)
        return self.market

    def orderbook(self, symbol: str, depth: int | None = None, run: ReadOnLoop = read_here) -> BookView:
        """As ``FeedSession.orderbook``; ``KeyError`` before any book is subscribed, and
        ``LookupError`` where the venue's market data has a socket of its own."""
        self._require_market_adapter()
        if self.market is None:
            raise KeyError(f"no book subscription covers {symbol!r}")
        return self.market.orderbook(symbol, depth, run)

    def _require_market_adapter(self) -> Adapter:
        if self._market_adapter is None:
            raise LookupError(
                f"{self.exchange}: market data does not share the trading socket; "
                f"subscribe on a feed instead (sdk.connect({self.exchange!r}))"
            )
        return self._market_adapter

    # -- user requests ----------------------------------------------------------------------

    def place(self, order: OrderRequest, now: float) -> Pending:
        """Queue ``order`` (given a client id if it has none) and return what will settle it.

        Refused before anything is queued: ``PreTradeRefused`` when the instrument data says the
        venue would reject it, ``RateLimited`` when it would take the symbol's trading rate
        counter over the venue's threshold.
        """
        self._require_ready()
        check_order(order, self.instruments.get(order.symbol))
        self.rates.admit(order.symbol, "add", None, now)
        if order.client_order_id is None:
            order = msgspec.structs.replace(order, client_order_id=uuid.uuid4().hex)
        frame = self.codec.add_order(order, self._require_token())
        self.stats.orders_sent += 1
        return self._send("add_order", frame, orders=(order,))

    def place_batch(self, orders: Sequence[OrderRequest], now: float) -> Pending:
        """As ``place``, for several orders in one request (the venue's batch): all are checked
        before any is queued, and the counter is charged once for the batch."""
        self._require_ready()
        if not orders:
            raise ValueError("a batch needs at least one order")
        for order in orders:
            check_order(order, self.instruments.get(order.symbol))
        self.rates.admit(orders[0].symbol, "batch_add", None, now, orders=len(orders))
        named = tuple(
            order if order.client_order_id else msgspec.structs.replace(order, client_order_id=uuid.uuid4().hex)
            for order in orders
        )
        frame = self.codec.batch_add(named, self._require_token())
        self.stats.orders_sent += len(named)
        return self._send("batch_add", frame, orders=named)

    def amend(
        self,
        now: float,
        *,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> Pending:
        self._require_ready()
        symbols = self._admit("amend", [venue_order_id or client_order_id or ""], now)
        frame = self.codec.amend_order(
            self._require_token(),
            venue_order_id=venue_order_id,
            client_order_id=client_order_id,
            qty=qty,
            price=price,
            stop_price=stop_price,
        )
        return self._send("amend_order", frame, symbols=symbols)

    def cancel(
        self, now: float, *, venue_order_ids: Sequence[str] = (), client_order_ids: Sequence[str] = ()
    ) -> Pending:
        self._require_ready()
        symbols = self._admit("cancel", [*venue_order_ids, *client_order_ids], now)
        frame = self.codec.cancel_order(
            self._require_token(), venue_order_ids=venue_order_ids, client_order_ids=client_order_ids
        )
        return self._send("cancel_order", frame, symbols=symbols)

    def cancel_all(self, now: float) -> Pending:
        """Cancel every open order: the venue's cancel-all, or where it has none one cancel per
        open order the account knows, settled once all are answered with the count cancelled."""
        self._require_ready()
        try:
            frame = self.codec.cancel_all(self._require_token())
        except NotImplementedError:
            return self._cancel_each("cancel_all")
        return self._send("cancel_all", frame)

    def cancel_all_after(self, timeout_s: int, now: float, wall_ns: int) -> Pending:
        """Arm (0: disarm) the dead man's switch: the venue's, or where it has none a local timer
        that cancels every known open order when it fires; a local one can only act while the
        account is connected, and its firing is reported as an ``ErrorEvent``."""
        self._require_ready()
        if timeout_s < 0:
            raise ValueError(f"timeout_s must not be negative, not {timeout_s}")
        try:
            frame = self.codec.cancel_all_orders_after(timeout_s, self._require_token())
        except NotImplementedError:
            self._dead_man_at = now + timeout_s if timeout_s else None
            trigger_ns = wall_ns + timeout_s * 1_000_000_000 if timeout_s else None
            return self._settled_now(
                "cancel_all_orders_after", Answer(-1, "cancel_all_orders_after", True, trigger_ns=trigger_ns)
            )
        self._dead_man = timeout_s or None
        return self._send("cancel_all_orders_after", frame)

    def _cancel_each(self, method: str) -> Pending:
        """One cancel per open order with a venue id, all settling one ``Pending``."""
        ids = [order.venue_order_id for order in self.orders.values() if order.venue_order_id]
        if not ids:
            return self._settled_now(method, Answer(-1, method, True, count=0))
        pending = Pending(method, -1, replies=len(ids), group=True)
        for venue_order_id in ids:
            frame = self.codec.cancel_order(self._require_token(), venue_order_ids=[venue_order_id])
            self._pending[frame.req_id] = pending
            self._outbox.append(frame)
        return pending

    def _settled_now(self, method: str, answer: Answer) -> Pending:
        pending = Pending(method, answer.req_id)
        pending.settle(result=answer)
        return pending

    def _admit(self, transaction: str, keys: Sequence[str], now: float) -> tuple[str, ...]:
        """Charge the rate counter for amending or cancelling the orders named, each at its age;
        nothing is charged unless all fit. Orders this account does not know are the venue's to judge."""
        known = [(order.symbol, now - self._seen_at.get(key, now)) for key in keys if (order := self._order(key))]
        for symbol, age in known:
            wait_s = self.rates.check(symbol, transaction, age, now)
            if wait_s is not None:
                raise RateLimited(symbol, self.rates.level(symbol, now), self.rates.tier.threshold, wait_s)
        for symbol, age in known:
            self.rates.charge(symbol, transaction, age, now)
        return tuple(dict.fromkeys(symbol for symbol, _ in known))

    def _order(self, key: str) -> OrderUpdate | None:
        """An open order by venue id or client id."""
        order = self.orders.get(key)
        if order is None:
            order = next((o for o in self.orders.values() if o.client_order_id == key), None)
        return order

    def _send(
        self, method: str, frame: SignedFrame, orders: tuple[OrderRequest, ...] = (), symbols: tuple[str, ...] = ()
    ) -> Pending:
        pending = Pending(method, frame.req_id, replies=frame.replies, orders=orders, symbols=symbols)
        self._pending[frame.req_id] = pending
        self._outbox.append(frame)
        return pending

    def _require_ready(self) -> None:
        if self.state != "ready":
            raise AccountNotReady(f"the {self.exchange} account is {self.state}: no request is sent until it is ready")

    def _require_token(self) -> Secret | None:
        """The session token; None for a venue logged in on the socket."""
        return self._token

    # -- the outbox -------------------------------------------------------------------------

    @property
    def has_outgoing(self) -> bool:
        """Frames wait to be sent: the account's, or its market session's."""
        return bool(self._outbox) or (self.market is not None and self.market.has_outgoing)

    def take_outgoing(self) -> list[SignedFrame]:
        outgoing, self._outbox = self._outbox, []
        return outgoing

    def sending(self, frame: SignedFrame, now: float) -> None:
        """``frame`` is handed to the socket: from here it may reach the venue whatever happens
        next, so a placement lost from now on is ``unknown``, and its reply clock starts."""
        pending = self._pending.get(frame.req_id)
        if pending is not None:
            pending.sent_at = now

    def _look_up(self, order: OrderUpdate) -> None:
        """Ask the venue where an order in doubt stands: on the socket where the venue answers
        there, else through the driver's REST lookups."""
        if self._login is not None:
            self._outbox.append(self.codec.query_order(order, self._token))
        else:
            self._lookups.append(OrderLookup(order))

    def _answer_challenge(self, challenge: Challenge) -> None:
        if self._login is None:
            raise WireValueError("the venue sent a login challenge to an account authenticated by token")
        self._outbox.append(self.codec.login(self._login, challenge))

    def _logged_in(self, answer: LoggedIn) -> None:
        self._login_due = None
        if answer.ok:
            self.token_received(None)
            return
        self.login_refused = answer.error or "refused without a reason"
        self.drop_reason = f"login refused: {self.login_refused}"
        logger.error("%s account: %s", self.exchange, self.drop_reason)

    def _looked_up(self, answer: LookupAnswer, now: float, wall_ns: int) -> list[TradingEvent]:
        order = self._in_doubt.get(answer.client_order_id)
        if order is None:
            return []  # settled meanwhile
        if answer.failed is not None:
            return self.lookup_failed(order, answer.failed, now, wall_ns)
        events: list[TradingEvent] = []
        if answer.heuristic and answer.found is not None:
            message = (
                f"order {answer.client_order_id} matched by its terms, not by id: the venue does not echo client ids"
            )
            events.append(ErrorEvent(exchange=self.exchange, message=message, ts_received=wall_ns))
        return events + self.lookup_answered(order, answer.found, now, wall_ns)

    def take_lookups(self) -> list[OrderLookup]:
        lookups, self._lookups = self._lookups, []
        return lookups

    # -- frames -----------------------------------------------------------------------------

    def receive(self, frames: Sequence[bytes | str], now: float, wall_ns: int) -> list[AccountEvent]:
        """Decode frames; a frame that cannot be read is an ``ErrorEvent`` and changes nothing.
        Where market data shares the socket, every frame is read by the market session too, in
        turn, so trades and fills keep the order they arrived in."""
        events: list[AccountEvent] = []
        market = self.market
        for frame in frames:
            events.extend(self._receive_private(frame, now, wall_ns))
            if market is not None:
                events.extend(market.receive([frame], now, wall_ns))
        return events

    def _receive_private(self, frame: bytes | str, now: float, wall_ns: int) -> list[TradingEvent]:
        events: list[TradingEvent] = []
        try:
            decoded = self.codec.decode_frame(frame, wall_ns)
        except (WireValueError, msgspec.MsgspecError, ValueError) as error:
            self.stats.decode_errors += 1
            events.append(frame_error(self.exchange, f"unreadable frame: {error}", frame, wall_ns))
            return events
        for item in decoded:
            if isinstance(item, Answer):
                events.extend(self._answered(item, now, wall_ns))
            elif isinstance(item, SnapshotDone):
                events.extend(self._snapshot_done(item, now, wall_ns))
            elif isinstance(item, Challenge):
                self._answer_challenge(item)
            elif isinstance(item, LoggedIn):
                self._logged_in(item)
            elif isinstance(item, LookupAnswer):
                events.extend(self._looked_up(item, now, wall_ns))
            elif isinstance(item, Instrument):
                self.instruments[item.symbol] = item
                events.extend(self._ready_if_rebuilt(wall_ns))
            else:
                events.extend(self._event(item, now))
        return events

    def _event(self, event: TradingEvent, now: float) -> list[TradingEvent]:
        if isinstance(event, OrderUpdate):
            try:
                self._track(event, now)
            except OrderTransitionError as impossible:
                return [ErrorEvent(exchange=self.exchange, message=str(impossible), ts_received=event.ts_received)]
        elif isinstance(event, Balance):
            self.balances[event.asset, event.wallet] = event
        elif isinstance(event, Fill):
            self.stats.fills += 1
            tally = self._fill_tally.get(event.venue_order_id)
            if tally is not None:
                tally[1] += event.qty
        return [event]

    def _track(self, update: OrderUpdate, now: float) -> None:
        """Keep the open-order view, and settle an order in doubt that the venue now shows.
        Raises ``OrderTransitionError`` (changing nothing) for a move the order cannot make."""
        cid = update.client_order_id
        known = self.orders.get(update.venue_order_id or "") or (self.orders.get(cid) if cid else None)
        update = apply(known, update)
        if update.venue_order_id is not None:
            tally = self._fill_tally.get(update.venue_order_id)
            if tally is not None:
                tally[0] = update.filled_qty
            elif not update.filled_qty:  # seen from its start: every fill of it should reach the user
                self._fill_tally[update.venue_order_id] = [update.filled_qty, Decimal(0)]
        if cid is not None and cid in self._in_doubt:
            del self._in_doubt[cid]
            self._lookup_due.pop(cid, None)
            self._rebuild.lookups.discard(cid)
            self.orders.pop(cid, None)
            self.stats.reconciled += 1
        key = update.venue_order_id or cid
        if key is None:
            return
        if update.state in FINAL:
            self.orders.pop(key, None)
            self._seen_at.pop(key, None)
            tally = self._fill_tally.get(key)
            if tally is not None and tally[0] <= tally[1]:  # every fill delivered: nothing left to check
                del self._fill_tally[key]
        else:
            self.orders[key] = update
            self._seen_at.setdefault(key, now)

    def _answered(self, answer: Answer, now: float, wall_ns: int) -> list[TradingEvent]:
        self.stats.replies += 1
        pending = self._pending.get(answer.req_id)
        if pending is None:
            return []
        if pending.group:
            return self._part_answered(pending, answer)
        pending.replies -= 1
        if pending.replies > 0 and answer.ok:
            return []
        del self._pending[answer.req_id]
        events: list[TradingEvent] = []
        if not answer.ok and answer.error is not None and self.codec.token_rejected(answer.error):
            self.needs_token = True
            self.stats.tokens_rejected += 1
            logger.warning(
                "%s account: the venue refused the session token (%s); fetching a new one", self.exchange, answer.error
            )
        if not answer.ok and answer.error is not None and self.codec.rate_limited(answer.error):
            return events + self._rate_limited(pending, answer, now)
        if pending.orders:
            updates = answer.updates
            if not updates and answer.ok:  # accepted and placed nothing: validate-only orders
                updates = tuple(
                    requested(self.exchange, o, "canceled", reason=VALIDATED, received_ns=wall_ns)
                    for o in pending.orders
                )
                events.extend(updates)
            pending.settle(updates=updates)
        elif answer.ok:
            pending.settle(result=answer)
        else:
            pending.settle(error=RequestRejected(pending.method, answer.error or "refused without a reason"))
        self.settled.append(pending)
        return events

    def _part_answered(self, pending: Pending, answer: Answer) -> list[TradingEvent]:
        del self._pending[answer.req_id]
        pending.replies -= 1
        pending.succeeded += answer.ok  # a refused part (already gone) still counts as answered
        if pending.replies == 0:
            pending.settle(result=Answer(answer.req_id, pending.method, True, count=pending.succeeded))
            self.settled.append(pending)
        return []

    def _rate_limited(self, pending: Pending, answer: Answer, now: float) -> list[TradingEvent]:
        """The venue's rate limit refused the request: nothing happened, and its counter is full.
        A placement settles as the ``rejected`` update carrying the venue's text; anything else
        raises ``RateLimited`` for the caller."""
        self.stats.rate_limited += 1
        symbols = [order.symbol for order in pending.orders] or list(pending.symbols)
        for symbol in symbols:
            self.rates.saturate(symbol, now)
        if pending.orders:
            pending.settle(updates=answer.updates)
        else:
            symbol = symbols[0] if symbols else "every symbol"
            tier = self.rates.tier
            level = self.rates.level(symbol, now) if symbols else tier.threshold
            pending.settle(error=RateLimited(symbol, level, tier.threshold, tier.threshold / tier.decay_per_s))
        self.settled.append(pending)
        return []

    def _snapshot_done(self, done: SnapshotDone, now: float, wall_ns: int) -> list[TradingEvent]:
        if done.failed is not None:
            self.drop_reason = f"the venue refused the {done.channel} snapshot ({done.failed}); reconnecting"
            return [ErrorEvent(exchange=self.exchange, message=self.drop_reason, ts_received=wall_ns)]
        if done.channel == "balances":
            self._rebuild.balances = True
        else:
            self._rebuild.orders = True
            showing = set(done.open_orders)
            events: list[TradingEvent] = []
            for key, order in list(self.orders.items()):
                if order.state == "unknown" or key in showing:
                    continue
                # open before the outage, closed while away without a fill the snapshot re-sends
                if order.client_order_id is not None:
                    self._in_doubt[order.client_order_id] = order
                else:  # placed elsewhere, without a client id to look it up by
                    del self.orders[key]
                    message = f"order {key} closed while disconnected; how it ended is not known (no client id)"
                    events.append(ErrorEvent(exchange=self.exchange, message=message, ts_received=wall_ns))
            for cid, order in self._in_doubt.items():
                self._rebuild.lookups.add(cid)
                self._look_up(order)
                self._lookup_due[cid] = (float("inf"), 1)
            return events + self._ready_if_rebuilt(wall_ns)
        return self._ready_if_rebuilt(wall_ns)

    def _fill_gaps(self, wall_ns: int) -> list[TradingEvent]:
        """Orders filled further than the fills delivered for them: executions made while away
        that the venue's snapshot no longer re-sends (Kraken re-sends the last 50). The quantities
        are right; the individual fills are lost, and that is said, once per gap."""
        events: list[TradingEvent] = []
        for venue_order_id, tally in list(self._fill_tally.items()):
            filled, delivered = tally
            if filled > delivered:
                message = (
                    f"order {venue_order_id}: {filled} filled but fills for {delivered} delivered; the venue no "
                    f"longer re-sends the executions of the other {filled - delivered}"
                )
                events.append(ErrorEvent(exchange=self.exchange, message=message, ts_received=wall_ns))
                tally[1] = filled
            if venue_order_id not in self.orders:  # final, and accounted for
                del self._fill_tally[venue_order_id]
        return events

    def _ready_if_rebuilt(self, wall_ns: int) -> list[TradingEvent]:
        rebuild = self._rebuild
        rebuilt = rebuild.orders and rebuild.balances and self.instruments and not rebuild.lookups
        if self.state != "rebuilding" or not rebuilt:
            return []
        self.state = "ready"
        gaps = self._fill_gaps(wall_ns)
        open_orders = sum(1 for order in self.orders.values() if order.state != "unknown")
        logger.info("%s account: ready, %d open orders", self.exchange, open_orders)
        return [*gaps, AccountReady(exchange=self.exchange, open_orders=open_orders, ts_received=wall_ns)]

    # -- reconciliation -----------------------------------------------------------------------

    def lookup_answered(
        self, order: OrderUpdate, found: OrderUpdate | None, now: float, wall_ns: int
    ) -> list[TradingEvent]:
        """The venue's record of an order in doubt: settles it, or (after the last attempt: REST
        may lag the engine) declares it not placed."""
        cid = order.client_order_id
        assert cid is not None
        if cid not in self._in_doubt:
            return []  # the socket settled it meanwhile
        events: list[TradingEvent] = []
        if found is not None:
            events.extend(self._event(found, now))
        else:
            _, attempts = self._lookup_due.get(cid, (now, self.lookup_attempts))
            if attempts < self.lookup_attempts:
                self._lookup_due[cid] = (now + self.lookup_retry, attempts + 1)
                return []
            not_placed = msgspec.structs.replace(order, state="rejected", reason=NOT_PLACED, ts_received=wall_ns)
            events.extend(self._event(not_placed, now))
        return events + self._ready_if_rebuilt(wall_ns)

    def lookup_failed(self, order: OrderUpdate, reason: str, now: float, wall_ns: int) -> list[TradingEvent]:
        """The lookup itself failed: try again later; the order stays ``unknown``, and says so."""
        cid = order.client_order_id
        assert cid is not None
        _, attempts = self._lookup_due.get(cid, (now, 0))
        self._lookup_due[cid] = (now + self.lookup_retry, attempts)
        return [ErrorEvent(exchange=self.exchange, message=f"order {cid} lookup failed: {reason}", ts_received=wall_ns)]

    # -- time -------------------------------------------------------------------------------

    def next_deadline(self) -> float:
        deadlines = [p.sent_at + self.reply_timeout for p in self._pending.values() if p.sent_at is not None]
        deadlines.extend(due for due, _ in self._lookup_due.values())
        if self._dead_man_at is not None:
            deadlines.append(self._dead_man_at)
        if self._login_due is not None:
            deadlines.append(self._login_due)
        if self.market is not None:
            deadlines.append(self.market.next_deadline())
        return min(deadlines, default=NEVER)

    def tick(self, now: float, wall_ns: int) -> list[AccountEvent]:
        """A reply overdue drops the connection as dead (its reconnect snapshot settles what is in
        doubt); lookups due go out again; the market session does what is due to it."""
        events: list[AccountEvent] = self._tick_trading(now, wall_ns)
        if self.market is not None:
            events.extend(self.market.tick(now, wall_ns))
        return events

    @property
    def dropping(self) -> str | None:
        """Why the connection must be dropped, if the account or its market session wants it."""
        if self.drop_reason is None and self.market is not None:
            return self.market.drop_reason
        return self.drop_reason

    def _tick_trading(self, now: float, wall_ns: int) -> list[AccountEvent]:
        for pending in self._pending.values():
            if pending.sent_at is not None and now - pending.sent_at >= self.reply_timeout:
                self.drop_reason = f"no reply to {pending.method} within {self.reply_timeout:g} s"
                break
        for cid, (due, attempts) in list(self._lookup_due.items()):
            if due <= now and cid in self._in_doubt:
                self._lookup_due[cid] = (float("inf"), attempts)
                self._look_up(self._in_doubt[cid])
        if self._login_due is not None and now >= self._login_due:
            self._login_due = None
            self.drop_reason = f"login not completed within {self.login_window:g} s of connecting"
        if self._dead_man_at is not None and now >= self._dead_man_at and self.state == "ready":
            return [*self._dead_man_fires(wall_ns)]
        return []

    def _dead_man_fires(self, wall_ns: int) -> list[TradingEvent]:
        """The local dead man's switch ran out: every known open order is cancelled."""
        self._dead_man_at = None
        self._cancel_each("dead man's switch")
        message = f"dead man's switch fired (emulated locally): cancelling {len(self.orders)} open orders"
        logger.warning("%s account: %s", self.exchange, message)
        return [ErrorEvent(exchange=self.exchange, message=message, ts_received=wall_ns)]
