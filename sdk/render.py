"""One readable line per event, market or trading, for terminals and logs; and an order in words,
for the question asked before it is sent."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Final

from schemas.events import (
    BookInvalidated,
    BookLevel,
    BookResynced,
    BookSnapshot,
    BookUpdate,
    Candle,
    ConsolidatedQuote,
    Disconnected,
    ErrorEvent,
    Event,
    EventsDropped,
    Instrument,
    Quote,
    Reconnected,
    RecordingGap,
    Status,
    StreamGap,
    Subscribed,
    SubscriptionError,
    SubscriptionStale,
    Ticker,
    Trade,
    Unsubscribed,
)
from schemas.trading import AccountReady, Balance, Fill, OrderRequest, OrderUpdate, TimeInForce, TradingEvent

TIME_IN_FORCE_WORDS: Final[dict[TimeInForce, str]] = {
    "gtc": "good till cancelled",
    "ioc": "immediate or cancel",
    "fok": "fill or kill",
    "gtd": "good till a date",
}


def describe(event: Event | TradingEvent) -> str:
    """``HH:MM:SS.mmm exchange symbol kind details`` for any event. A book update names only the
    sides it changes, each level as ``qty@price`` or ``price removed``."""
    clock = time.strftime("%H:%M:%S", time.localtime(event.ts_received / 1e9))
    millis = event.ts_received // 1_000_000 % 1000
    return f"{clock}.{millis:03d} {event.exchange:<10} {_body(event)}"


def _body(event: Event | TradingEvent) -> str:
    match event:
        case Trade():
            side = event.side or "?"
            return f"{event.symbol:<9} trade     {side:<4} {event.qty:f} @ {event.price:f}"
        case BookSnapshot():
            return (
                f"{event.symbol:<9} book      snapshot {len(event.bids)} bids / {len(event.asks)} asks, "
                f"best {_price(event.bids)} / {_price(event.asks)}"
            )
        case BookUpdate():
            checksum = f" checksum {event.checksum}" if event.checksum is not None else ""
            sides = [
                f"{name} {_changes(levels)}" for name, levels in (("bids", event.bids), ("asks", event.asks)) if levels
            ]
            return f"{event.symbol:<9} book      {'; '.join(sides) or 'no level changed'}{checksum}"
        case Ticker():
            return (
                f"{event.symbol:<9} ticker    bid {event.bid:f} ask {event.ask:f} last {event.last:f} "
                f"24h vol {event.volume_24h:f}"
            )
        case Quote():
            return f"{event.symbol:<9} quote     {event.bid_qty:f} @ {event.bid:f} / {event.ask_qty:f} @ {event.ask:f}"
        case ConsolidatedQuote():
            flags = " CROSSED" if event.crossed else " LOCKED" if event.locked else ""
            return (
                f"{event.symbol:<9} best      {_side(event.bid_qty, event.bid, event.bid_venue)} / "
                f"{_side(event.ask_qty, event.ask, event.ask_venue)}{flags}"
            )
        case Candle():
            start = time.strftime("%H:%M", time.localtime(event.start / 1e9))
            return (
                f"{event.symbol:<9} candle    {event.interval} {start} O {event.open:f} H {event.high:f} "
                f"L {event.low:f} C {event.close:f} V {event.volume:f}"
            )
        case Instrument():
            return (
                f"{event.symbol:<9} instrument {event.status} price {event.price_precision} dp, "
                f"qty {event.qty_precision} dp, min qty {event.qty_min}"
            )
        case Status():
            return f"status    {event.detail or event.state}"
        case Subscribed():
            notes = f" (warnings: {'; '.join(event.warnings)})" if event.warnings else ""
            return f"subscribed {event.subscription}{notes}"
        case Unsubscribed():
            return f"unsubscribed {event.subscription}"
        case SubscriptionError():
            what = event.subscription or event.symbol or "request"
            return f"REFUSED   {what}: {event.message}"
        case ErrorEvent():
            return f"ERROR     {event.message}: {event.raw[:120]}"
        case BookInvalidated():
            values = f" (expected {event.expected}, computed {event.computed})" if event.expected is not None else ""
            return f"{event.symbol:<9} BOOK INVALID {event.reason}{values}; resyncing"
        case BookResynced():
            return f"{event.symbol:<9} book      resynced from a fresh snapshot"
        case SubscriptionStale():
            return f"STALE     {event.subscription}: no data for {event.silent_for / 1e9:.1f} s"
        case EventsDropped():
            return f"DROPPED   {event.count} events (consumer too slow; {event.total} so far)"
        case RecordingGap():
            return f"RECORDING GAP {event.dropped} records lost ({event.reason}; {event.total} so far)"
        case StreamGap():
            count = "an unknown number of" if event.count is None else str(event.count)
            source = f" by {event.collector}" if event.collector else ""
            return f"STREAM GAP {event.stream}: {count} events lost ({event.reason}{source})"
        case Disconnected():
            return f"DISCONNECTED {event.reason}{' (final)' if event.final else ''}"
        case Reconnected():
            return f"reconnected after {event.downtime / 1e9:.3f} s (attempt {event.attempt})"
        case OrderUpdate():
            return f"{event.symbol:<9} order     {describe_update(event)}"
        case Fill():
            fee = f" fee {event.fee:f} {event.fee_asset}" if event.fee_asset else ""
            liquidity = f" {event.liquidity}" if event.liquidity else ""
            return (
                f"{event.symbol:<9} fill      {event.side:<4} {event.qty:f} @ {event.price:f}{fee}{liquidity} "
                f"order {event.venue_order_id} (fill {event.fill_id})"
            )
        case Balance():
            return f"balance   {describe_balance(event)}"
        case AccountReady():
            return f"ready     account state current, {event.open_orders} open orders"


def describe_update(update: OrderUpdate) -> str:
    """An order's state, what it is, how much is filled, its ids and the venue's reason."""
    kind = update.order_type or "order"
    if update.qty is not None:
        amount = f"{update.qty:f}"
    elif update.quote_qty is not None:
        amount = f"{update.quote_qty:f} (quote)"
    else:
        amount = "?"
    price = f" @ {update.price:f}" if update.price is not None else ""
    trigger = f" trigger {update.stop_price:f}" if update.stop_price is not None else ""
    average = f" avg {update.avg_price:f}" if update.avg_price is not None else ""
    reason = f" ({update.reason})" if update.reason else ""
    return (
        f"{update.state:<16} {update.side:<4} {kind} {amount}{price}{trigger} filled {update.filled_qty:f}{average} "
        f"venue id {update.venue_order_id or '-'} client id {update.client_order_id or '-'}{reason}"
    )


def describe_balance(balance: Balance) -> str:
    """``ASSET total [available N] [in WALLET]``; no wallet is the asset across the whole account."""
    available = f" available {balance.available:f}" if balance.available is not None else ""
    wallet = f" in {balance.wallet}" if balance.wallet is not None else ""
    return f"{balance.asset:<6} {balance.total:f}{available}{wallet}"


def describe_order(order: OrderRequest) -> str:
    """The request in words, as in "buy 0.01 BTC/USD, limit at 50000.0, good till cancelled"."""
    if order.qty is not None:
        amount = f"{order.qty:f} {order.symbol}"
    else:
        base, _, quote = order.symbol.partition("/")
        amount = f"{order.quote_qty:f} {quote} worth of {base} ({order.symbol})"
    if order.order_type == "market":
        execution = "at the market"
    elif order.order_type == "limit":
        execution = f"limit at {order.price:f}"
    else:
        execution = f"{order.order_type.replace('_', ' ')} triggered at {order.stop_price:f}"
        execution += f", limit at {order.price:f}" if order.price is not None else ""
    parts = [f"{order.side} {amount}", execution, TIME_IN_FORCE_WORDS[order.time_in_force]]
    if order.expire_time is not None:
        parts.append(f"expiring {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(order.expire_time / 1e9))}")
    parts += [flag for flag, on in (("post-only", order.post_only), ("reduce-only", order.reduce_only)) if on]
    if order.client_order_id is not None:
        parts.append(f"client id {order.client_order_id}")
    if order.validate_only:
        parts.append("validate only (the venue checks it and places nothing)")
    return ", ".join(parts)


def _side(qty: Decimal | None, price: Decimal | None, venue: str | None) -> str:
    return f"{qty:f} @ {price:f} ({venue})" if price is not None and qty is not None else "none"


def _price(levels: tuple[BookLevel, ...]) -> str:
    return f"{levels[0].price:f}" if levels else "-"


def _changes(levels: tuple[BookLevel, ...]) -> str:
    """Each changed level as ``qty@price``, or ``price removed`` for a zero quantity (a deletion)."""
    return ", ".join(
        f"{level.price:f} removed" if not level.qty else f"{level.qty:f}@{level.price:f}" for level in levels
    )
