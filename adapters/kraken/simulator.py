"""A local Kraken v2 exchange over the same synthetic market as the v1 simulator.

Numbers go out as JSON numbers printed with each pair's precision, books carry a checksum on
every message (snapshot included), and the instrument channel publishes the precisions a client
needs to verify them.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from adapters.kraken.private_simulator import Envelope, KrakenDesk, KrakenPrivateSession, is_private
from adapters.kraken.wire import Params, Request
from adapters.kraken_common.checksum import KrakenChecksum
from adapters.kraken_common.instruments import COST_MIN, INSTRUMENTS, QTY_DECIMALS, price_decimals
from adapters.kraken_common.limits import BOOK_DEPTHS, OHLC_MINUTES
from sdk.credentials import Credentials
from sdk.simulation.desk import TradingFaults
from sdk.simulation.http import HttpRequest, HttpResponse
from sdk.simulation.market import Instrument, InstrumentState, MarketStep, SimTrade, SyntheticMarket
from sdk.simulation.matching import MatchingEngine
from sdk.simulation.session import Reply, Session, flip_number_after
from sdk.simulation.simulator import Simulator
from sdk.simulation.window import DepthWindow
from sdk.wiretext import ns_to_rfc3339

_CHANNELS = ("book", "trade", "ticker", "ohlc")
Key = tuple[str, str]
"""(channel, symbol) of one subscription."""


DEFAULT_TEST_KEY = "xfeeds-simulator-key"
DEFAULT_TEST_SECRET = base64.b64encode(b"xfeeds simulator secret: for loopback tests only").decode()
"""The account a simulator opens when given none; its secret is valid base64, as Kraken's are."""
DEFAULT_BALANCES: dict[str, Decimal] = {
    "USD": Decimal(100_000),
    "EUR": Decimal(100_000),
    "BTC": Decimal(10),
    "ETH": Decimal(100),
}


class KrakenSimulator(TradingFaults, Simulator):
    """Kraken v2 on loopback, public and private: ``xfeeds simulate kraken --port 8765`` runs one.

    One port serves the WebSocket (market data and, with a token, trading, as ``ws-auth`` does)
    and Kraken's REST (``GetWebSocketsToken``, ``ClosedOrders``). ``accounts`` maps API keys to
    their base64 secrets (default: one test account, ``DEFAULT_TEST_KEY``/``DEFAULT_TEST_SECRET``);
    each starts with ``balances``.
    """

    desk: KrakenDesk

    def __init__(
        self,
        *,
        accounts: Mapping[str, str] | None = None,
        balances: Mapping[str, Decimal] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        tick_interval: float = 0.05,
        heartbeat_interval: float = 1.0,
    ) -> None:
        super().__init__(
            host=host, port=port, seed=seed, tick_interval=tick_interval, heartbeat_interval=heartbeat_interval
        )
        self.accounts = dict(accounts or {DEFAULT_TEST_KEY: DEFAULT_TEST_SECRET})
        self.desk = KrakenDesk(self.market, self.accounts, balances or DEFAULT_BALANCES, seed)

    @property
    def auth_url(self) -> str:
        """Where the private socket connects: the same socket as the public one."""
        return self.url

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def credentials(self) -> Credentials:
        """The first test account's key and secret."""
        key, secret = next(iter(self.accounts.items()))
        return Credentials(key=key, secret=secret)

    @property
    def engine(self) -> MatchingEngine:
        return self.desk.engine

    @property
    def banner(self) -> list[str]:
        lines = [f"REST on {self.rest_url}"]
        lines += [f"test account: API key {key!r}, secret {secret!r}" for key, secret in self.accounts.items()]
        return lines

    def instruments(self) -> list[Instrument]:
        return INSTRUMENTS

    def new_session(self) -> KrakenSession:
        return KrakenSession(self.market, KrakenPrivateSession(self.desk))

    def answer_http(self, request: HttpRequest) -> HttpResponse:
        return self.desk.rest.answer(request, time.time_ns())

    def on_tick(self, steps: list[MarketStep], now_ns: int) -> None:
        self.desk.tick(steps, now_ns)

    # -- trading fault switches -------------------------------------------------------------

    @property
    def refuse_tokens(self) -> str | None:
        """When set, every token request is refused with this Kraken error (``EGeneral:Temporary lockout``)."""
        return self.desk.rest.refuse_tokens

    @refuse_tokens.setter
    def refuse_tokens(self, error: str | None) -> None:
        self.desk.rest.refuse_tokens = error

    @property
    def replies_before_executions(self) -> bool:
        """Whether an order's reply comes before its ``executions`` rows (default: after)."""
        return self.desk.replies_first

    @replies_before_executions.setter
    def replies_before_executions(self, value: bool) -> None:
        self.desk.replies_first = value

    def invalidate_tokens(self) -> int:
        """Forget every issued token and end the private subscriptions made with them; the next
        private request gets ``EAPI:Invalid token``, the socket stays up. Returns how many tokens
        were forgotten."""
        for session in list(self.desk.sessions):
            session.end_subscriptions()
        return self.desk.rest.invalidate_tokens()

    def issued_secrets(self) -> list[str]:
        """Every session token the REST side has issued, in order."""
        return list(self.desk.rest.issued)


class KrakenSession(Session):
    """One client connection: its subscriptions, what each book subscriber holds, and its private side."""

    def __init__(self, market: SyntheticMarket, private: KrakenPrivateSession) -> None:
        super().__init__(market)
        self._private = private
        self._envelopes = msgspec.json.Decoder(Envelope)
        self._decoder = msgspec.json.Decoder(Request)
        self._encoder = msgspec.json.Encoder()
        self._subscriptions: dict[Key, Params] = {}
        self._windows: dict[str, DepthWindow] = {}
        self._best: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
        self._instruments = [state.instrument for state in market.states.values()]
        self._precision = {i.symbol: (price_decimals(i), QTY_DECIMALS) for i in self._instruments}

    def on_open(self, now_ns: int) -> list[str]:
        status = {"system": "online", "api_version": "v2", "version": "2.0.10"}
        return [self._push("status", "update", [{**status, "connection_id": 18125794168470749634}])]

    def status(self, state: str) -> str:
        data = [{"system": state, "api_version": "v2", "version": "2.0.10"}]
        return self._encoder.encode({"channel": "status", "type": "update", "data": data}).decode()

    def heartbeat(self, now_ns: int) -> str | None:
        return '{"channel":"heartbeat"}' if self._subscriptions else None

    def on_message(self, data: bytes, now_ns: int) -> Reply:
        private = self._private_request(data)
        if private is not None:
            return self._private.answer(private, now_ns)
        reply = Reply()
        try:
            request = self._decoder.decode(data)
        except msgspec.DecodeError:
            reply.send(self._reply({"error": "Malformed request", "success": False}, now_ns))
            return reply
        if request.method == "ping":
            if request.params is not None:
                error = "Unsupported field: 'params' for the given msg type: ping"
                reply.send(self._reply({"error": error, "method": "ping", "success": False}, now_ns, request))
            else:
                reply.send(self._reply({"method": "pong"}, now_ns, request))
        elif request.method in ("subscribe", "unsubscribe") and request.params is not None:
            params = request.params
            if params.channel == "instrument":
                self._instrument(request, reply, now_ns)
            else:
                for symbol in params.symbol or []:
                    self._subscription(request, params, symbol, reply, now_ns)
        else:
            reply.send(self._reply({"error": "Unsupported event", "success": False}, now_ns, request))
        return reply

    def refuse(self, data: bytes, reason: str, now_ns: int) -> list[str] | None:
        private = self._private_request(data)
        if private is not None:
            return [self._private.refuse(private, reason, now_ns)] if private.method == "subscribe" else None
        try:
            request = self._decoder.decode(data)
        except msgspec.DecodeError:
            return None
        if request.method != "subscribe" or request.params is None:
            return None
        if request.params.channel == "instrument":
            return [self._reply({"error": reason, "method": "subscribe", "success": False}, now_ns, request)]
        return [self._refusal_of(request, symbol, reason, now_ns) for symbol in request.params.symbol or []]

    def corrupt_checksum(self, frame: str, symbol: str) -> str | None:
        if not frame.startswith('{"channel":"book"') or f'"symbol":"{symbol}"' not in frame:
            return None
        return flip_number_after(frame, '"checksum":')

    def _private_request(self, data: bytes) -> Envelope | None:
        try:
            envelope = self._envelopes.decode(data)
        except msgspec.DecodeError:
            return None
        return envelope if is_private(envelope) else None

    # -- subscriptions ----------------------------------------------------------------------

    def _subscription(self, request: Request, params: Params, symbol: str, reply: Reply, now_ns: int) -> None:
        key = (params.channel, symbol)
        if request.method == "unsubscribe":
            if self._subscriptions.pop(key, None) is None:
                reply.send(self._refusal_of(request, symbol, "Subscription Not Found", now_ns))
                return
            self._windows.pop(symbol, None) if params.channel == "book" else None
            reply.send(self._acknowledgement(request, params, symbol, now_ns))
            return
        problem = self._refusal(params, symbol)
        if problem is None and key in self._subscriptions:
            problem = "Already subscribed"
        if problem is not None:
            reply.send(self._refusal_of(request, symbol, problem, now_ns))
            return
        self._subscriptions[key] = params
        reply.ack(self._acknowledgement(request, params, symbol, now_ns))
        for frame in self._snapshot(params, symbol, now_ns):
            reply.send(frame)

    def _refusal(self, params: Params, symbol: str) -> str | None:
        if params.channel not in _CHANNELS:
            return "Unsupported event"
        if symbol not in self.market.states:
            return f"Currency pair not supported {symbol}"
        if params.channel == "book" and (params.depth or 10) not in BOOK_DEPTHS:
            return "Invalid depth"
        if params.channel == "ohlc" and (params.interval or 1) not in OHLC_MINUTES:
            return "Invalid interval"
        return None

    def _acknowledgement(self, request: Request, params: Params, symbol: str | None, now_ns: int) -> str:
        result: dict[str, Any] = {"channel": params.channel, "symbol": symbol}
        if params.channel == "book":
            result["depth"] = params.depth or 10
        if params.channel == "ohlc":
            result["interval"] = params.interval or 1
            result["warnings"] = ["timestamp is deprecated, use interval_begin"]
        if params.channel == "ticker":
            result["event_trigger"] = params.event_trigger or "trades"
        if symbol is None:
            del result["symbol"]
        return self._reply({"method": request.method, "result": result, "success": True}, now_ns, request)

    def _refusal_of(self, request: Request, symbol: str, error: str, now_ns: int) -> str:
        reply = {"error": error, "method": request.method, "success": False, "symbol": symbol}
        return self._reply(reply, now_ns, request)

    def _instrument(self, request: Request, reply: Reply, now_ns: int) -> None:
        params = Params(channel="instrument")
        key = ("instrument", "*")
        if request.method == "unsubscribe":
            self._subscriptions.pop(key, None)
            reply.send(self._acknowledgement(request, params, None, now_ns))
            return
        self._subscriptions[key] = params
        reply.ack(self._acknowledgement(request, params, None, now_ns))
        pairs = []
        for instrument in self._instruments:
            places = price_decimals(instrument)
            base, _, quote = instrument.symbol.partition("/")
            pairs.append(
                {
                    "symbol": instrument.symbol,
                    "base": base,
                    "quote": quote,
                    "status": "online",
                    "qty_precision": QTY_DECIMALS,
                    "qty_increment": _number(instrument.lot, QTY_DECIMALS),
                    "price_precision": places,
                    "price_increment": _number(instrument.tick, places),
                    "qty_min": _number(instrument.lot, QTY_DECIMALS),
                    "cost_min": _number(COST_MIN, 2),
                }
            )
        reply.send(self._push("instrument", "snapshot", {"assets": [], "pairs": pairs}))

    # -- market data ------------------------------------------------------------------------

    def _snapshot(self, params: Params, symbol: str, now_ns: int) -> list[str]:
        state = self.market.state(symbol)
        if params.channel == "book":
            window = self._windows[symbol] = DepthWindow(state, params.depth or 10)
            return [self._book(symbol, "snapshot", window.bids, window.asks, window=window, now=now_ns)]
        if params.channel == "ticker" and params.snapshot is not False:
            return [self._push("ticker", "snapshot", [self._ticker(state, now_ns)])]
        if params.channel == "ohlc" and params.snapshot is not False:
            return [self._push("ohlc", "snapshot", [self._candle(state, params.interval or 1, now_ns)], now_ns)]
        if params.channel == "trade" and params.snapshot:
            return [self._push("trade", "snapshot", [self._trade(symbol, trade) for trade in state.recent])]
        return []

    def on_market(self, steps: list[MarketStep]) -> list[str]:
        frames = self._private.drain()
        for step in steps:
            symbol = step.symbol
            state = self.market.state(symbol)
            for channel in _CHANNELS:
                params = self._subscriptions.get((channel, symbol))
                if params is None:
                    continue
                if channel == "book":
                    window = self._windows[symbol]
                    bid_changes, ask_changes = window.advance(state)
                    if bid_changes or ask_changes:
                        bids = [(c.price, c.qty) for c in bid_changes]
                        asks = [(c.price, c.qty) for c in ask_changes]
                        frames.append(self._book(symbol, "update", bids, asks, window=window, now=step.time_ns))
                elif channel == "ticker":
                    if (params.event_trigger == "bbo" and self._best_changed(state)) or (
                        params.event_trigger != "bbo" and step.trades
                    ):
                        frames.append(self._push("ticker", "update", [self._ticker(state, step.time_ns)]))
                elif step.trades and channel == "trade":
                    frames.append(self._push("trade", "update", [self._trade(symbol, t) for t in step.trades]))
                elif step.trades and channel == "ohlc":
                    candle = self._candle(state, params.interval or 1, step.time_ns)
                    frames.append(self._push("ohlc", "update", [candle], step.time_ns))
        return frames

    def _book(
        self,
        symbol: str,
        kind: str,
        bids: list[tuple[Decimal, Decimal]],
        asks: list[tuple[Decimal, Decimal]],
        *,
        window: DepthWindow,
        now: int,
    ) -> str:
        price_places, qty_places = self._precision[symbol]
        scheme = KrakenChecksum(price_places, qty_places)
        checksum = scheme.checksum(
            "".join(scheme.fragment(p, q) for p, q in window.asks[: scheme.levels]).encode(),
            "".join(scheme.fragment(p, q) for p, q in window.bids[: scheme.levels]).encode(),
        )
        data = {
            "symbol": symbol,
            "bids": [{"price": _number(p, price_places), "qty": _number(q, qty_places)} for p, q in bids],
            "asks": [{"price": _number(p, price_places), "qty": _number(q, qty_places)} for p, q in asks],
            "checksum": checksum,
            "timestamp": ns_to_rfc3339(now),
        }
        return self._push("book", kind, [data])

    def _best_changed(self, state: InstrumentState) -> bool:
        (bid, bid_qty), (ask, ask_qty) = state.bids.top(1)[0], state.asks.top(1)[0]
        best = (bid, bid_qty, ask, ask_qty)
        changed = self._best.get(state.instrument.symbol) != best
        self._best[state.instrument.symbol] = best
        return changed

    def _ticker(self, state: InstrumentState, now: int) -> dict[str, Any]:
        places = self._precision[state.instrument.symbol][0]
        (bid, bid_qty), (ask, ask_qty) = state.bids.top(1)[0], state.asks.top(1)[0]
        change = state.last_price - state.open_24h
        return {
            "symbol": state.instrument.symbol,
            "bid": _number(bid, places),
            "bid_qty": _number(bid_qty, QTY_DECIMALS),
            "ask": _number(ask, places),
            "ask_qty": _number(ask_qty, QTY_DECIMALS),
            "last": _number(state.last_price, places),
            "volume": _number(state.volume_24h, QTY_DECIMALS),
            "vwap": _number(state.vwap_24h, places),
            "low": _number(state.low_24h, places),
            "high": _number(state.high_24h, places),
            "change": _number(change, places),
            "change_pct": _number(change * 100 / state.open_24h, 2),
            "trades": state.trades_24h,
            "timestamp": ns_to_rfc3339(now),
        }

    def _candle(self, state: InstrumentState, minutes: int, now: int) -> dict[str, Any]:
        interval_ns = minutes * 60_000_000_000
        candle = state.candle(interval_ns, now)
        places = self._precision[state.instrument.symbol][0]
        vwap = candle.notional / candle.volume if candle.volume else candle.close
        return {
            "symbol": state.instrument.symbol,
            **{name: _number(getattr(candle, name), places) for name in ("open", "high", "low", "close")},
            "trades": candle.count,
            "volume": _number(candle.volume, QTY_DECIMALS),
            "vwap": _number(vwap, places),
            "interval_begin": ns_to_rfc3339(candle.start_ns, 9),
            "interval": minutes,
            "timestamp": ns_to_rfc3339(candle.start_ns + interval_ns),
        }

    def _trade(self, symbol: str, trade: SimTrade) -> dict[str, Any]:
        places = self._precision[symbol][0]
        return {
            "symbol": symbol,
            "side": trade.side,
            "price": _number(trade.price, places),
            "qty": _number(trade.qty, QTY_DECIMALS),
            "ord_type": trade.order_type,
            "trade_id": trade.trade_id,
            "timestamp": ns_to_rfc3339(trade.time_ns),
        }

    def _push(self, channel: str, kind: str, data: Any, sent: int | None = None) -> str:
        message: dict[str, Any] = {"channel": channel, "type": kind, "data": data}
        if sent is not None:
            message["timestamp"] = ns_to_rfc3339(sent, 9)
        return self._encoder.encode(message).decode()

    def _reply(self, reply: dict[str, Any], received: int, request: Request | None = None) -> str:
        """A direct answer, stamped as Kraken stamps them (the simulator answers at once)."""
        if request is not None and request.req_id is not None:
            reply["req_id"] = request.req_id
        reply["time_in"] = reply["time_out"] = ns_to_rfc3339(received)
        return self._encoder.encode(reply).decode()


def _number(value: Decimal, places: int) -> msgspec.Raw:
    """A JSON number printed with ``places`` decimals, trailing zeros kept, as Kraken prints them."""
    return msgspec.Raw(f"{value:.{places}f}".encode())
