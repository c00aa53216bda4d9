"""Every guess about Midchains' undocumented behaviour, in one place.

Midchains documents its subscribe request and its book and trade messages, and little else. What
the adapter and the simulator assume beyond that (acknowledgements, unsubscribe, errors,
heartbeats, snapshots) is a named switch here, shared by both, so a recorded session can settle
each one by flipping a switch rather than editing code.

A5 (unsubscribe mirrors subscribe, answered with ``"result": "OK"``) is assumed without a switch:
were the real venue to ignore it, the fallback is to reconnect with the remaining subscriptions.
A8 (a book may cross for a moment, until the engine removes the matched entries) is declared on the
adapter record instead, as ``tolerates_crossed_books``: the feed core is what acts on it. The pairs'
price and quantity grid (no document gives one) is assumed in ``adapters.midchains.instruments``,
one table the account's pre-trade check and the simulator both read.

One security has one ``book`` stream, whatever reads it: quotes and every book depth come from it
(the venue publishes no quote feed). The first subscription that needs the stream subscribes it, the
last one to leave unsubscribes it; a second subscribe would be one the venue ignores or refuses, and
an unsubscribe while others read it would end their data. A subscription that joins or leaves a
stream already requested sends nothing and, as A3 has it for every subscription, is confirmed by the
stream's next message, from which on it is served (or no longer) from the book the codec holds. A
book the feed resyncs while others share its stream is renewed: unsubscribed and subscribed again,
and everything on it continues from the fresh snapshot (A6).

Trading (the fields after ``heartbeat_type``) documents its requests and queries, and nothing of
what the venue pushes. Its switches: ``login_window_s`` (documented: 30 s to log in; the account
drops a socket whose login has not completed by then), T1 ``pushes`` (pushed updates are the
query rows, or wrapped under ``data``), T2 ``login_snapshot`` (open orders and positions pushed at
login), T3 ``client_id_echo`` (``clientorderid`` sent and echoed; else an order in doubt is matched
by its terms, flagged heuristic), T4 ``finished_short`` (an order done short is ``canceled`` or
``expired``), T5 ``rate_limit_result`` (the refusal text over the private request limit), T6
``post_only`` (``alo``, ``ordertype`` ``POST``, or none), T7 ``dead_man`` (none on the venue:
emulated locally, or not at all) and T8 ``cancel_by_refno`` (``cancelorder`` without a security).

Assumed without a switch by the codec (``adapters.midchains.private``), each with what settles it:

- Requests carry no id: replies to requests of one type come in the order sent, every reply
  echoes its request, and an ``addorder`` reply goes to the oldest placement whose echoed terms
  agree. A reply out of order would be matched to the wrong request.
- No status is sent: an order is open while ``liveqty`` is above zero, ``filled`` once ``execqty``
  reaches ``qty`` (for a market buy by ``amount``, once ``execamount`` reaches ``amount``), and T4
  otherwise; ``execqty`` and ``execamount`` are cumulative.
- ``traderefno`` is unique to one execution, the key fills are delivered once by.
- Sales made while the account was away are not counted on to be pushed at the next login: they
  are asked for with ``querytrade`` from a minute (``LOOKBACK_NS``) before the latest fill seen (or
  the first login, before any); an order in
  doubt without a ``refno`` is looked for with ``querymultiorders`` since a minute before it went
  in doubt, ``fromtime`` filtering by ``updtime`` (by ``trdtime`` for trades).
- A query's answer is complete once ``total_rec`` rows have arrived over its pages; ``"no
  position"`` and ``"no actual position"`` are empty answers, not refusals.
- Numbers come as strings or JSON numbers (FII's samples use numbers), times in milliseconds;
  a message of a type not known here is skipped (the documentation warns new ones may appear).
- A market order never rests, so its ``gtc`` is sent as ``IOC``; ``exptime`` is POSIX seconds.
- The login uses the key served on its own connection (whether the venue rotates it is unknown).
- Each pair's tick and lot, a minimum of one lot and no minimum value
  (``adapters.midchains.instruments.PAIRS``).

Assumed by the simulator (``adapters.midchains.trading_simulator``) beyond these: a private request
before login is answered ``"not logged in"``; only a socket that asked for trading is closed at the
end of the login window (``"login timeout"``), a market-data-only one never; an order's reply comes
before its pushed rows; a fill pushes its ``sale`` row, then its ``order`` row, then the two
``position`` rows; an order done at once pushes no row for its acceptance; ``exptime`` may also be
in milliseconds; the refusal texts ``"invalid order"``, ``"post only order would take liquidity"``,
``"duplicate clientorderid"`` (a client id of an open order), ``"invalid price"``, ``"invalid qty"``
and ``"qty below minimum"`` (off the grid). Documented, and used as written: ``"OK"``,
``"invalid user/password"``, ``"cannot use qty for market buy order"``, ``"order not found"``,
``"no position"``, ``"not enough fund"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class MidchainsDialect:
    dest: str = "CROX"
    """Documented: the ``dest`` of every request."""
    open_notice: bool = True
    """A1: the server greets a connection with ``{"type":"open"}``."""
    positive_acks: bool = False
    """A3: no ack on success; the first data message confirms the subscription (and a subscription
    joining or leaving a stream others already read: see the module's note on shared streams)."""
    refusal_result: bool = True
    """A4: a refused request is echoed with ``"result"`` other than ``"OK"`` (False: silence)."""
    snapshot_mode: Literal["first_message", "flag"] = "first_message"
    """A6: the first book message after a subscribe is the snapshot (``"flag"``: ``"snapshot": true``).

    After an unsubscribe, book messages until its reply (A5) are the ended stream's, never a snapshot."""
    zero_qty_is_remove: bool = True
    """A7: an update to quantity zero removes the entry."""
    trade_replay: int = 20
    """A10: trades the server replays on subscribe (the client de-duplicates by ``matchid``)."""
    heartbeat_type: str = "heartbeat"
    """A12: the simulator's idle heartbeat ``type`` (clients send only WebSocket pings)."""

    # -- trading (challenge/login, addorder, cancelorder, queries, pushes) --------------------

    login_window_s: float = 30.0
    """Documented: a trading socket not logged in this many seconds after it opened is closed."""
    pushes: Literal["rows", "wrapped"] = "rows"
    """T1: after login the venue pushes each change as the row its queries return (``{"type":
    "order", ...}``, ``"sale"``, ``"position"``; ``"wrapped"``: ``{"type": ..., "data": [rows]}``)."""
    login_snapshot: bool = True
    """T2: right after login the venue pushes every open order and position (the docs' words);
    False: the client asks with ``querymultiorders`` and ``querypos``."""
    client_id_echo: bool = True
    """T3: ``addorder`` takes a ``clientorderid`` that the venue echoes in the reply and in the
    order's ``order`` and ``sale`` rows (FII's documentation says so; Midchains' lists no such
    input). False: none is sent or echoed, and an order in doubt is matched by its terms."""
    finished_short: Literal["canceled", "expired"] = "canceled"
    """T4: an order done (``liveqty`` 0) with less executed than ordered was ``canceled`` (or
    ``expired``): no status field tells them apart."""
    rate_limit_result: str = "rate limit exceeded"
    """T5: the ``result`` text of a private request over 5 a second (bursts of 10)."""
    post_only: Literal["alo", "ordertype", "refused"] = "alo"
    """T6: how a post-only order is asked for: FII's ``"alo": true``, its ``"ordertype": "POST"``,
    or not at all (the pre-trade side refuses post-only orders)."""
    cancel_by_refno: bool = True
    """T8: ``cancelorder`` finds the order by its ``refno`` alone: one the account has not seen is
    asked for without a ``security`` (the documentation's example always has one), and the venue
    answers ``"order not found"`` as for any order it does not have. False: the venue needs the
    security, answers ``"invalid security"`` without one, and the client refuses such a cancel
    before sending it (it cannot know the security)."""
    dead_man: Literal["emulated", "none"] = "emulated"
    """T7: the venue has no dead man's switch on the socket; ``emulated`` arms a local timer that
    cancels every known order when it fires (only while connected: documented as such); ``none``
    refuses to arm one (``cancel_all_after`` raises ``ValueError``)."""


DEFAULT_DIALECT = MidchainsDialect()
