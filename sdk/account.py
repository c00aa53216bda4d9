"""The async trading account: the I/O driver around an ``AccountSession``.

It fetches a session token over REST (a fresh one for every connection, one fetch in flight at a
time), connects the authenticated socket, feeds every read to the session, sends what it queues,
looks up orders in doubt over REST, sleeps until the session's next deadline and reconnects when
the socket is lost. Every rule lives in the session; this module waits, reads and writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

import anyio
import anyio.abc

from schemas.events import Instrument
from schemas.subscription import Subscription
from schemas.trading import AccountReady, Balance, OrderRequest, OrderUpdate
from sdk.account_session import AccountEvent, AccountSession, AccountState, AccountStats, OrderLookup, Pending
from sdk.books import BookView
from sdk.connection import CONNECTION_ERRORS, Connection, Connector, DefaultConnector
from sdk.contract import Adapter
from sdk.credentials import Credentials, Secret
from sdk.errors import ConnectFailed, FeedClosed, LoginRefused, OutcomeUnknown, sole_error
from sdk.pacing import TokenBucket
from sdk.ratelimit import RateTier
from sdk.reconnect import ReconnectPolicy
from sdk.session import FeedSession, Outgoing
from sdk.source import ClosedOnExit
from sdk.trading_contract import (
    Answer,
    Authenticator,
    NonceSource,
    RestRequest,
    TokenRequestFailed,
    TradingAdapter,
)
from sdk.transport import is_loopback

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("xfeeds.account")

_CONNECT_ERRORS: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, TimeoutError)


def _rest_errors() -> tuple[type[Exception], ...]:
    """What a failed REST call raises. httpx (several megabytes of modules) is imported when an
    account opens, not with the SDK: a program reading market data never loads it."""
    import httpx  # noqa: PLC0415

    return (httpx.HTTPError, TokenRequestFailed)


__all__ = ["Account"]


class Account(ClosedOnExit):
    """One trading account on one exchange; use as an async context manager.

    Entering it fetches a token, connects and returns once the account is ready (open orders,
    balances and instrument data received). ``place``, ``amend``, ``cancel``, ``cancel_all`` and
    ``cancel_all_after`` send requests and return when the venue answers; ``open_orders``,
    ``balances`` and ``instruments`` are read-only views kept current. ``async for event in
    account`` yields every ``OrderUpdate``, ``Fill`` and ``Balance`` and the control events
    (``AccountReady``, ``Disconnected``, ``Reconnected``, ``ErrorEvent``, ``Status``). Events are
    never dropped: when ``buffer_size`` are waiting, reading the socket waits for the consumer.

    ``url`` overrides the authenticated WebSocket endpoint, ``rest_url`` the REST base tokens come
    from. A reply later than ``reply_timeout`` seconds counts the socket as dead (it is replaced,
    and what was in flight is reconciled); ``ready_timeout`` bounds the wait for readiness on entry
    (``TimeoutError`` naming what did not arrive). ``rate_tier`` is the account's tier of the
    venue's trading rate counter (Kraken: ``adapters.kraken.ratelimits.PRO``...), the lowest when
    not given: the counter then refuses early rather than late.

    Where the venue carries market data on the trading socket (Midchains), ``subscribe`` takes
    market subscriptions on the account's own socket: their events (``Trade``, ``BookSnapshot``,
    ``Subscribed``...) come in the same iteration, ``orderbook`` reads the books maintained, and
    they are subscribed again after each reconnect. Elsewhere ``subscribe`` raises ``LookupError``:
    market data has a socket of its own there (``sdk.connect``).
    """

    def __init__(
        self,
        adapter: Adapter,
        credentials: Credentials,
        url: str | None = None,
        rest_url: str | None = None,
        *,
        connector: Connector | None = None,
        reconnect: ReconnectPolicy | None = None,
        reply_timeout: float = 10.0,
        ready_timeout: float = 30.0,
        lookup_retry: float = 5.0,
        buffer_size: int = 100_000,
        rate_tier: RateTier | None = None,
    ) -> None:
        if adapter.trading is None:
            raise LookupError(f"adapter {adapter.name!r} does not trade (market data only)")
        self.adapter = adapter
        self._trading: TradingAdapter = adapter.trading
        self._credentials = credentials
        self.url = url or self._trading.default_url
        self.rest_url = rest_url or self._trading.default_rest_url
        if self._trading.authenticator is not None:  # a venue logged in on its socket has no REST
            _refuse_plaintext(self.rest_url)
        self._connector = connector or DefaultConnector(log_frames=False)
        self.ready_timeout = ready_timeout
        self.session = AccountSession(
            self._trading.codec(adapter.name, adapter.symbols),
            self._trading.rate_counter(rate_tier or self._trading.rate_tier),
            reply_timeout=reply_timeout,
            reconnect=reconnect,
            lookup_retry=lookup_retry,
            login=credentials if self._trading.authenticator is None else None,
            login_window=self._trading.login_window_s,
            market_adapter=adapter if self._trading.shares_market_socket else None,
        )
        self._pacer = TokenBucket(self._trading.request_limit) if self._trading.request_limit else None
        self._market_pacer = TokenBucket(adapter.request_limit) if adapter.request_limit is not None else None
        """Market requests are paced as a feed paces them."""
        self._send_events, self._events = anyio.create_memory_object_stream[AccountEvent](buffer_size)
        self._nonces = NonceSource()
        self._http: httpx.AsyncClient | None = None
        self._stack: AsyncExitStack | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._waiters: dict[int, anyio.Event] = {}
        self._token_flight: anyio.Event | None = None
        self._token_error: Exception | None = None
        self._shared_token: Secret | None = None
        self._ready = anyio.Event()
        self._outbox_ready = anyio.Event()
        self._deadline_moved = anyio.Event()
        self._closed = False
        self._failure: Exception | None = None

    def __repr__(self) -> str:
        return f"Account({self.adapter.name!r}, {self.url!r}, {self._credentials!r}, state={self.session.state!r})"

    # -- views ------------------------------------------------------------------------------

    @property
    def state(self) -> AccountState:
        return self.session.state

    @property
    def stats(self) -> AccountStats:
        return self.session.stats

    @property
    def open_orders(self) -> Mapping[str, OrderUpdate]:
        """Orders not final, by venue id (client id while the venue's is not known): read-only."""
        return MappingProxyType(self.session.orders)

    @property
    def balances(self) -> Mapping[tuple[str, str | None], Balance]:
        """The latest balance of each (asset, wallet); wallet None is the asset's account total."""
        return MappingProxyType(self.session.balances)

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        """The venue's reference data by symbol, which the pre-trade check reads."""
        return MappingProxyType(self.session.instruments)

    def orderbook(self, symbol: str, depth: int | None = None) -> BookView:
        """As ``Feed.orderbook``, for the books subscribed on this account (``subscribe``)."""
        return self.session.orderbook(symbol, depth)

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Connect and wait until the account is ready; ``ConnectFailed`` names the URL when the
        socket cannot be opened, ``TokenRequestFailed`` or ``LoginRefused`` the venue's reason when
        it refuses the credentials, ``TimeoutError`` what did not arrive within ``ready_timeout``."""
        import httpx  # noqa: PLC0415 - see _rest_errors

        async with AsyncExitStack() as stack:
            self._http = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
            try:
                token = await self._fresh_token() if self._trading.authenticator is not None else None
            except httpx.HTTPError as exc:
                raise ConnectFailed(self.rest_url, exc) from exc
            try:
                connection = await self._connector.connect(self.url)
            except _CONNECT_ERRORS as exc:
                raise ConnectFailed(self.url, exc) from exc
            self._task_group = await stack.enter_async_context(anyio.create_task_group())
            self._task_group.start_soon(self._run, connection, token)
            with anyio.move_on_after(self.ready_timeout):
                await self._ready.wait()
            failure = self._failure
            if not self._ready.is_set():
                failure = TimeoutError(
                    f"the {self.adapter.name} account at {self.url} was not ready within {self.ready_timeout:g} s "
                    f"(state {self.session.state}): its snapshots or instrument data did not all arrive"
                )
            if failure is None:
                self._stack = stack.pop_all()
            else:  # raised once the task group is left, so it surfaces as itself, not in a group
                self._closed = True
                self._task_group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return self

    async def aclose(self) -> None:
        """Log out where the venue has a logout, close the socket; iteration ends after the events
        already delivered."""
        logging_out = not self._closed and self._stack is not None and self.session.closing()
        self._closed = True  # from here no reconnect: the venue closes the socket after a logout
        if logging_out:
            self._wake()
            with anyio.move_on_after(1):
                while self.session.has_outgoing:
                    await anyio.sleep(0.01)
        self._send_events.close()
        self._release_waiters()
        stack, self._stack = self._stack, None
        if stack is not None and self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await stack.aclose()

    # -- requests ---------------------------------------------------------------------------

    async def place(self, order: OrderRequest) -> OrderUpdate:
        """Place ``order`` and return the update that settles the request: ``pending_new`` or
        later (accepted), ``rejected`` with the venue's reason, or ``unknown`` (the reply was lost;
        a later ``OrderUpdate`` settles it). It is sent once; it is never re-sent.

        An order without ``client_order_id`` is given one. Raises ``AccountNotReady`` while the
        account reconnects (nothing is sent).
        """
        pending = self.session.place(order, anyio.current_time())
        await self._settled(pending)
        return pending.updates[0]

    async def place_batch(self, orders: Sequence[OrderRequest]) -> list[OrderUpdate]:
        """Place several orders in one request (the venue's batch; Kraken: 2 to 15 orders of one
        symbol): one settling update per order, in the order given. As ``place`` otherwise."""
        pending = self.session.place_batch(orders, anyio.current_time())
        await self._settled(pending)
        return list(pending.updates)

    async def amend(
        self,
        *,
        venue_order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Change an open order in place; its new state arrives as an ``OrderUpdate``.

        Raises ``RequestRejected`` with the venue's reason, or ``OutcomeUnknown`` if the socket
        dropped before the reply.
        """
        pending = self.session.amend(
            anyio.current_time(),
            venue_order_id=venue_order_id,
            client_order_id=client_order_id,
            qty=qty,
            price=price,
            stop_price=stop_price,
        )
        await self._settled(pending)

    async def cancel(self, *venue_order_ids: str, client_order_ids: tuple[str, ...] = ()) -> None:
        """Cancel orders by venue ids (or by ``client_order_ids``); the cancellations arrive as
        ``OrderUpdate``s. Raises as ``amend`` does."""
        pending = self.session.cancel(
            anyio.current_time(), venue_order_ids=venue_order_ids, client_order_ids=client_order_ids
        )
        await self._settled(pending)

    async def cancel_all(self) -> int:
        """Cancel every open order of the account; returns how many the venue cancelled. A venue
        without a cancel-all gets one cancel per open order the account knows."""
        answer = await self._settled(self.session.cancel_all(anyio.current_time()))
        assert isinstance(answer, Answer)
        return answer.count or 0

    async def cancel_all_after(self, timeout_s: int) -> int | None:
        """Arm the venue's dead man's switch: every order is cancelled unless this is called again
        within ``timeout_s`` seconds (0 disarms it). Returns when it fires (ns), None if disarmed.
        It stays armed across reconnects. A venue without one gets a local timer that cancels every
        known open order when it fires; unlike the venue's, it cannot act while disconnected."""
        answer = await self._settled(self.session.cancel_all_after(timeout_s, anyio.current_time(), time.time_ns()))
        assert isinstance(answer, Answer)
        return answer.trigger_ns

    async def _settled(self, pending: Pending) -> Answer | None:
        if not pending.done:
            waiter = self._waiters[id(pending)] = anyio.Event()
            self._wake()
            try:
                await waiter.wait()
            finally:
                self._waiters.pop(id(pending), None)
        if not pending.done:  # the account ended first: whatever was sent may or may not have acted
            raise self._failure or OutcomeUnknown(f"{pending.method}: the account closed before the reply")
        if pending.error is not None:
            raise pending.error
        return pending.result

    # -- market data on the account's socket ----------------------------------------------

    async def subscribe(self, *subscriptions: Subscription, verify: bool = True) -> None:
        """As ``Feed.subscribe``, on the account's own socket; ``LookupError`` where the venue's
        market data has a socket of its own (use ``sdk.connect`` there)."""
        self._refuse_if_closed()
        self._market().subscribe(subscriptions, verify=verify)
        self._wake()

    async def unsubscribe(self, *subscriptions: Subscription) -> None:
        """As ``Feed.unsubscribe``, on the account's own socket."""
        self._refuse_if_closed()
        self._market().unsubscribe(subscriptions)
        self._wake()

    def _market(self) -> FeedSession:
        return self.session.market_data(anyio.current_time(), time.time_ns())

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise FeedClosed("the account is closed")

    # -- consuming --------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[AccountEvent]:
        return self

    async def __anext__(self) -> AccountEvent:
        try:
            return await self._events.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._failure is not None:
                raise self._failure from None
            raise StopAsyncIteration from None

    async def next_batch(self) -> list[AccountEvent]:
        """Every event available now (at least one, waiting for it); ``FeedClosed`` at the end."""
        try:
            batch = [await self._events.receive()]
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._failure is not None:
                raise self._failure from None
            raise FeedClosed("the account is closed") from None
        while True:
            try:
                batch.append(self._events.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return batch

    # -- the driver -------------------------------------------------------------------------

    async def _run(self, connection: Connection, token: Secret | None) -> None:
        try:
            while True:
                reason = await self._serve(connection, token)
                await self._deliver(self.session.connection_lost(reason, anyio.current_time(), time.time_ns()))
                self._settle_waiters()
                if self.session.login_refused is not None:
                    self._failure = LoginRefused(self.adapter.name, self.session.login_refused)
                    self._ready.set()
                    return
                reconnected = await self._reconnect()
                if reconnected is None:
                    return
                connection, token = reconnected
        except Exception as group:  # a bug: end the account and hand the error to the user as itself
            error = sole_error(group)
            logger.error("%s account stopped by an unexpected error", self.adapter.name, exc_info=error)
            self._failure = error
            self._ready.set()
        finally:
            self._send_events.close()
            self._release_waiters()

    async def _serve(self, connection: Connection, token: Secret | None) -> str:
        session = self.session
        await self._deliver(session.connection_made(anyio.current_time(), time.time_ns()))
        if self._trading.authenticator is not None:  # else the codec logs in on the socket
            session.token_received(token)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._send, connection)
                tasks.start_soon(self._keep_time, connection, tasks)
                reason = await self._read(connection, tasks)
                tasks.cancel_scope.cancel()
            return reason
        finally:
            with anyio.move_on_after(1, shield=True):
                await connection.close()

    async def _read(self, connection: Connection, tasks: anyio.abc.TaskGroup) -> str:
        session = self.session
        try:
            while True:
                frames = await connection.receive_batch()
                events = session.receive(frames, anyio.current_time(), time.time_ns())
                self._settle_waiters()
                self._start_side_work(tasks)
                await self._deliver(events)
                self._wake()
        except CONNECTION_ERRORS as exc:
            return str(exc) or type(exc).__name__

    async def _send(self, connection: Connection) -> None:
        session = self.session
        try:
            while True:
                for frame in session.take_outgoing():
                    if self._pacer is not None:
                        await self._pacer.acquire()
                    session.sending(frame, anyio.current_time())
                    await connection.send_text(frame.text)
                if session.market is not None:
                    for outgoing in session.market.take_outgoing():
                        await self._send_market(connection, session.market, outgoing)
                self._deadline_moved.set()
                if not session.has_outgoing:
                    self._outbox_ready = anyio.Event()
                    await self._outbox_ready.wait()
        except CONNECTION_ERRORS as exc:
            logger.info("%s account: send failed: %s", self.adapter.name, exc)

    async def _send_market(self, connection: Connection, market: FeedSession, outgoing: Outgoing) -> None:
        """One frame of the market session, sent as a feed sends it (a ping when it has no text)."""
        if outgoing.text is None:
            await connection.ping()
        else:
            if outgoing.paced and self._market_pacer is not None:
                await self._market_pacer.acquire()
            await connection.send_text(outgoing.text)
        market.sent(outgoing, anyio.current_time())

    async def _keep_time(self, connection: Connection, tasks: anyio.abc.TaskGroup) -> None:
        session = self.session
        while True:
            self._deadline_moved = anyio.Event()
            with anyio.move_on_after(session.next_deadline() - anyio.current_time()):
                await self._deadline_moved.wait()
            await self._deliver(session.tick(anyio.current_time(), time.time_ns()))
            self._wake()  # what the tick queued goes out now: a local dead man's switch's cancels, lookups due again
            self._start_side_work(tasks)
            if session.dropping is not None:
                await connection.abort(session.dropping)
                return

    def _start_side_work(self, tasks: anyio.abc.TaskGroup) -> None:
        """REST work the session asked for: order lookups, and a fresh token after a refusal."""
        for lookup in self.session.take_lookups():
            tasks.start_soon(self._look_up, lookup)
        if self.session.needs_token:
            self.session.needs_token = False
            tasks.start_soon(self._replace_token)

    async def _look_up(self, lookup: OrderLookup) -> None:
        session, order = self.session, lookup.order
        authenticator = self._authenticator()
        assert order.client_order_id is not None
        try:
            nonce = self._nonces.next_nonce(time.time_ns())
            request = authenticator.order_query(self._credentials, nonce, self.rest_url, order.client_order_id)
            body = await self._post(request)
            found = authenticator.parse_order_query(body, order, time.time_ns())
        except _rest_errors() as error:
            events = session.lookup_failed(order, _rest_reason(error), anyio.current_time(), time.time_ns())
        else:
            events = session.lookup_answered(order, found, anyio.current_time(), time.time_ns())
        self._deadline_moved.set()
        await self._deliver(events)

    async def _replace_token(self) -> None:
        """The venue refused the token mid-session: a fresh one re-subscribes the private channels."""
        try:
            token = await self._fresh_token()
        except _rest_errors() as error:
            self.session.drop_reason = f"token refused and a fresh one could not be had: {_rest_reason(error)}"
            self._deadline_moved.set()
            return
        self.session.token_received(token)
        self._wake()

    async def _reconnect(self) -> tuple[Connection, Secret | None] | None:
        while not self._closed:
            delay = self.session.reconnect_delay()
            if delay is None:
                await self._deliver([self.session.gave_up(time.time_ns())])
                return None
            await anyio.sleep(delay)
            try:
                token = await self._fresh_token() if self._trading.authenticator is not None else None
                connection = await self._connector.connect(self.url)
            except (*_CONNECT_ERRORS, *_rest_errors()) as exc:
                logger.info("%s account: reconnect failed: %s", self.adapter.name, _rest_reason(exc))
                continue
            return connection, token
        return None

    # -- REST -------------------------------------------------------------------------------

    async def _fresh_token(self) -> Secret:
        """A new token from the venue; callers that ask while a fetch is in flight share it."""
        flight = self._token_flight
        if flight is not None:
            await flight.wait()
            if self._token_error is not None or self._shared_token is None:
                raise self._token_error or TokenRequestFailed("the token request failed")
            return self._shared_token
        self._token_flight = anyio.Event()
        self._token_error = None
        try:
            nonce = self._nonces.next_nonce(time.time_ns())
            authenticator = self._authenticator()
            request = authenticator.token_request(self._credentials, nonce, self.rest_url)
            token = authenticator.parse_token_reply(await self._post(request)).token
            self._shared_token = token
            self.session.stats.tokens_fetched += 1
            logger.info("%s account: session token fetched from %s", self.adapter.name, urlsplit(self.rest_url).netloc)
            return token
        except Exception as error:
            self._token_error = error
            raise
        finally:
            self._token_flight.set()
            self._token_flight = None

    def _authenticator(self) -> Authenticator:
        authenticator = self._trading.authenticator
        assert authenticator is not None, "REST work only for venues authenticated by token"
        return authenticator

    async def _post(self, request: RestRequest) -> bytes:
        assert self._http is not None
        response = await self._http.request(
            request.method, request.url, headers=list(request.headers), content=request.body
        )
        response.raise_for_status()
        return response.content

    # -- plumbing ---------------------------------------------------------------------------

    async def _deliver(self, events: Sequence[AccountEvent]) -> None:
        for event in events:
            if isinstance(event, AccountReady):
                self._ready.set()
            try:
                await self._send_events.send(event)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # closed by the user: nobody reads any more

    def _settle_waiters(self) -> None:
        for pending in self.session.settled:
            waiter = self._waiters.get(id(pending))
            if waiter is not None:
                waiter.set()
        self.session.settled.clear()

    def _release_waiters(self) -> None:
        """The account has ended: nobody waits for a reply that will not be read."""
        for waiter in self._waiters.values():
            waiter.set()

    def _wake(self) -> None:
        if self.session.has_outgoing:
            self._outbox_ready.set()
        self._deadline_moved.set()


def _refuse_plaintext(rest_url: str) -> None:
    """Credentials sign REST requests: never over plain HTTP to another machine."""
    parts = urlsplit(rest_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        raise ValueError(f"refusing {rest_url}: signed requests go over https:// (plain http only to loopback)")


def _rest_reason(error: BaseException) -> str:
    """Why a REST call failed, without the request (its headers hold the key and signature)."""
    import httpx  # noqa: PLC0415 - see _rest_errors

    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code} from {error.request.url.host}"
    if isinstance(error, httpx.HTTPError):
        return f"{type(error).__name__}: {error}"
    return str(error) or type(error).__name__
