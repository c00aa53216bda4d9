"""One readable line per event, for terminals and logs."""

from __future__ import annotations

import time

from schemas.events import (
    BookInvalidated,
    BookLevel,
    BookResynced,
    BookSnapshot,
    BookUpdate,
    Candle,
    Disconnected,
    ErrorEvent,
    Event,
    EventsDropped,
    Instrument,
    Quote,
    Reconnected,
    Status,
    Subscribed,
    SubscriptionError,
    SubscriptionStale,
    Ticker,
    Trade,
    Unsubscribed,
)


def describe(event: Event) -> str:
    """``HH:MM:SS.mmm exchange symbol kind details`` for any event."""
    clock = time.strftime("%H:%M:%S", time.localtime(event.ts_received / 1e9))
    millis = event.ts_received // 1_000_000 % 1000
    return f"{clock}.{millis:03d} {event.exchange:<10} {_body(event)}"


def _body(event: Event) -> str:
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
            return f"{event.symbol:<9} book      bids {_levels(event.bids)} asks {_levels(event.asks)}{checksum}"
        case Ticker():
            return (
                f"{event.symbol:<9} ticker    bid {event.bid:f} ask {event.ask:f} last {event.last:f} "
                f"24h vol {event.volume_24h:f}"
            )
        case Quote():
            return f"{event.symbol:<9} quote     {event.bid_qty:f} @ {event.bid:f} / {event.ask_qty:f} @ {event.ask:f}"
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
        case Disconnected():
            return f"DISCONNECTED {event.reason}{' (final)' if event.final else ''}"
        case Reconnected():
            return f"reconnected after {event.downtime / 1e9:.3f} s (attempt {event.attempt})"


def _price(levels: tuple[BookLevel, ...]) -> str:
    return f"{levels[0].price:f}" if levels else "-"


def _levels(levels: tuple[BookLevel, ...]) -> str:
    if not levels:
        return "-"
    return ", ".join(f"{level.qty:f}@{level.price:f}" for level in levels)
