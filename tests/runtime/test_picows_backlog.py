"""The picows connection's received messages, driven frame by frame: in order, and what the feed
has taken is let go even while the feed stays behind."""

from __future__ import annotations

import pytest

from sdk.connection import fast_transport_installed

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("anyio_backend", ["asyncio"]),
    pytest.mark.skipif(not fast_transport_installed(), reason="picows is not installed"),
]


class _Frame:
    """What ``on_ws_frame`` reads of one whole text frame."""

    def __init__(self, payload: bytes, last_in_buffer: bool) -> None:
        from picows import WSMsgType  # picows is an optional extra

        self.msg_type = WSMsgType.TEXT
        self.fin = True
        self.last_in_buffer = last_in_buffer
        self._payload = payload

    def get_payload_as_bytes(self) -> bytes:
        return self._payload


async def test_a_feed_that_stays_behind_gets_every_message_in_order_and_holds_only_a_bounded_list() -> None:
    from sdk.picows_transport import BATCH, TAKEN_KEPT, PicowsWebSocket  # an optional extra

    connection = PicowsWebSocket(max_message=1 << 20, write_timeout=1.0)
    sent = 0

    def socket_read(count: int) -> None:
        nonlocal sent
        for index in range(count):
            connection.on_ws_frame(None, _Frame(str(sent).encode(), index == count - 1))  # type: ignore[arg-type]
            sent += 1

    backlog = 3 * BATCH
    socket_read(backlog)
    received = 0
    for _ in range(100):
        socket_read(BATCH)  # each read as big as what the feed takes: it never catches up
        batch = await connection.receive_batch()
        assert batch == [str(number).encode() for number in range(received, received + BATCH)]
        received += len(batch)
        assert len(connection._messages) - connection._taken == backlog  # what still waits
        assert len(connection._messages) <= backlog + TAKEN_KEPT + BATCH  # what was taken is let go
    assert connection._waiting_bytes == sum(len(str(number)) for number in range(received, sent))
