"""msgspec structs mirroring Kraken's v1 public WebSocket messages.

Data frames are JSON arrays (``[channelID, payload..., channelName, pair]``) and decode as lists;
every other message is an object tagged by its ``event`` field. Client requests live here too so
the simulator speaks exactly the same wire.
"""

from __future__ import annotations

from typing import Any

import msgspec


class SubscriptionOptions(msgspec.Struct, omit_defaults=True):
    name: str
    depth: int | None = None
    interval: int | None = None


class SystemStatus(msgspec.Struct, tag_field="event", tag="systemStatus"):
    status: str
    version: str = ""
    connectionID: int | None = None  # noqa: N815 - wire name


class Heartbeat(msgspec.Struct, tag_field="event", tag="heartbeat"):
    pass


class Pong(msgspec.Struct, tag_field="event", tag="pong", omit_defaults=True):
    reqid: int | None = None


class SubscriptionStatus(msgspec.Struct, tag_field="event", tag="subscriptionStatus", omit_defaults=True):
    status: str
    pair: str | None = None
    channelName: str | None = None  # noqa: N815 - wire name
    channelID: int | None = None  # noqa: N815 - wire name
    reqid: int | None = None
    subscription: SubscriptionOptions | None = None
    errorMessage: str | None = None  # noqa: N815 - wire name


class Error(msgspec.Struct, tag_field="event", tag="error", omit_defaults=True):
    errorMessage: str  # noqa: N815 - wire name
    reqid: int | None = None


ServerMessage = list[Any] | SystemStatus | Heartbeat | Pong | SubscriptionStatus | Error


class Subscribe(msgspec.Struct, tag_field="event", tag="subscribe", omit_defaults=True):
    subscription: SubscriptionOptions
    pair: list[str] | None = None
    reqid: int | None = None


class Unsubscribe(msgspec.Struct, tag_field="event", tag="unsubscribe", omit_defaults=True):
    subscription: SubscriptionOptions
    pair: list[str] | None = None
    reqid: int | None = None


class Ping(msgspec.Struct, tag_field="event", tag="ping", omit_defaults=True):
    reqid: int | None = None


ClientMessage = Subscribe | Unsubscribe | Ping
