"""Which transport a feed gets: picows on asyncio where installed, websockets elsewhere or when asked."""

from __future__ import annotations

import logging

import pytest

from sdk.connection import TRANSPORT_VARIABLE, DefaultConnector, chosen_transport, fast_transport_installed
from sdk.hostile import HostileVenue, VenuePeer
from sdk.transport import WebSocket

pytestmark = pytest.mark.anyio

needs_picows = pytest.mark.skipif(not fast_transport_installed(), reason="picows is not installed")


@needs_picows
async def test_picows_on_asyncio_websockets_on_trio(anyio_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRANSPORT_VARIABLE, raising=False)
    assert chosen_transport() == ("picows" if anyio_backend == "asyncio" else "websockets")


async def test_the_variable_keeps_websockets_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRANSPORT_VARIABLE, "websockets")
    assert chosen_transport() == "websockets"


async def test_asking_for_picows_where_it_cannot_run_is_an_error(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRANSPORT_VARIABLE, "picows")
    if anyio_backend == "asyncio" and fast_transport_installed():
        assert chosen_transport() == "picows"
    else:
        with pytest.raises(RuntimeError, match="picows"):
            chosen_transport()
    monkeypatch.setenv(TRANSPORT_VARIABLE, "fastest")
    with pytest.raises(ValueError, match="auto, websockets or picows"):
        chosen_transport()


@pytest.mark.loopback
@needs_picows
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_default_connector_opens_picows_connections_without_logging_frames_when_told(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sdk.picows_transport import PicowsWebSocket

    async def echo(peer: VenuePeer) -> None:
        await peer.send(await peer.receive())
        await peer.hold()

    monkeypatch.delenv(TRANSPORT_VARIABLE, raising=False)
    caplog.set_level(1, logger="picows")
    async with HostileVenue(echo) as venue:
        for log_frames in (False, True):
            caplog.clear()
            connection = await DefaultConnector(log_frames=log_frames).connect(venue.url)
            assert isinstance(connection, PicowsWebSocket)
            await connection.send_text("secret-token")
            assert await connection.receive_batch() == [b"secret-token"]
            await connection.close()
            frame_lines = [r for r in caplog.records if r.levelno < logging.DEBUG]
            assert bool(frame_lines) == log_frames
    monkeypatch.setenv(TRANSPORT_VARIABLE, "websockets")
    async with HostileVenue(echo) as venue:
        connection = await DefaultConnector().connect(venue.url)
        assert isinstance(connection, WebSocket)
        await connection.close()
