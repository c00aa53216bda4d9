"""A TCP proxy in front of a Redis server that can lose a reply: the server did the work, the
client never hears so, as when a server dies between executing a command and answering it."""

from __future__ import annotations

from types import TracebackType

import anyio
from anyio.abc import SocketStream, TaskGroup


class ReplyCutter:
    """Passes bytes both ways until ``cut_next_script_reply`` is called; then the next successful
    reply to a script call (``EVALSHA``) is not passed on, the client's connection is closed
    instead, and for ``down_for`` seconds every new connection is closed at once."""

    def __init__(self, server_port: int, down_for: float) -> None:
        self.server_port = server_port
        self.down_for = down_for
        self.port = 0
        self.cut = 0
        """Script replies lost so far."""
        self._armed = False
        self._down_until = 0.0
        self._tasks: TaskGroup | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_next_script_reply(self) -> None:
        self._armed = True

    async def __aenter__(self) -> ReplyCutter:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(listener.serve, self._client)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._tasks is not None
        self._tasks.cancel_scope.cancel()
        await self._tasks.__aexit__(kind, error, trace)

    async def _client(self, client: SocketStream) -> None:
        async with client:
            if anyio.current_time() < self._down_until:
                return
            server = await anyio.connect_tcp("127.0.0.1", self.server_port)
            script_sent = [False]  # this connection's last command was a script call, not yet answered
            async with server, anyio.create_task_group() as tasks:
                tasks.start_soon(self._requests, client, server, script_sent, tasks)
                await self._replies(server, client, script_sent)
                tasks.cancel_scope.cancel()

    async def _requests(self, client: SocketStream, server: SocketStream, script_sent: list[bool], tasks: TaskGroup) -> None:
        async for data in client:
            if b"EVALSHA" in data:  # the command's first bytes: later reads of a long one do not reset it
                script_sent[0] = True
            await server.send(data)
        tasks.cancel_scope.cancel()

    async def _replies(self, server: SocketStream, client: SocketStream, script_sent: list[bool]) -> None:
        async for data in server:
            if self._armed and script_sent[0] and not data.startswith(b"-"):  # not an error: the script ran
                self._armed = False
                self.cut += 1
                self._down_until = anyio.current_time() + self.down_for
                return
            script_sent[0] = False
            await client.send(data)
