"""Plain HTTP on a simulator's WebSocket port: venues answer REST (token requests, order queries)
on the same host as their sockets, so a simulator serves both from one port.

``h11`` parses; the first request of a connection decides what it is: an upgrade goes on as a
WebSocket with the bytes already read, anything else is answered here, request after request,
until the client closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import anyio
import anyio.abc
import h11

_READ_SIZE = 65536


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json"


Responder = Callable[[HttpRequest], HttpResponse]


class Upgrade(Exception):
    """The request asks for a WebSocket: ``received`` is every byte read so far, to hand on."""

    def __init__(self, received: bytes) -> None:
        super().__init__("WebSocket upgrade")
        self.received = received


async def serve_http(stream: anyio.abc.ByteStream, respond: Responder) -> None:
    """Answer HTTP requests on ``stream`` with ``respond`` until the client closes.

    Raises ``Upgrade`` when the first request asks for a WebSocket.
    """
    connection = h11.Connection(h11.SERVER)
    received = bytearray()
    first = True
    while True:
        request = await _read_request(connection, stream, received if first else None)
        if request is None:
            return
        if first and request.headers.get("upgrade", "").lower() == "websocket":
            raise Upgrade(bytes(received))
        first = False
        response = respond(request)
        headers = [("content-type", response.content_type), ("content-length", str(len(response.body)))]
        await stream.send(connection.send(h11.Response(status_code=response.status, headers=headers)) or b"")
        await stream.send(connection.send(h11.Data(data=response.body)) or b"")
        await stream.send(connection.send(h11.EndOfMessage()) or b"")
        if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
            return
        connection.start_next_cycle()


async def _read_request(
    connection: h11.Connection, stream: anyio.abc.ByteStream, received: bytearray | None
) -> HttpRequest | None:
    """The next whole request, or None once the client has closed."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(_READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                data = b""
            if received is not None:
                received += data
            connection.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            head = event
            headers = {name.decode().lower(): value.decode() for name, value in event.headers}
            if received is not None and headers.get("upgrade", "").lower() == "websocket":
                return HttpRequest(event.method.decode(), event.target.decode(), headers, b"")
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {name.decode().lower(): value.decode() for name, value in head.headers}
            return HttpRequest(head.method.decode(), head.target.decode(), headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
