"""Hostile venues against each transport: a peer that stops reading, a close sent with the upgrade, fragments,
close codes, an untrusted certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSListener
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.frames import Frame, Opcode

import sdk
from schemas import Disconnected, Reconnected
from sdk.hostile import HostileVenue, VenuePeer
from sdk.testing import collect_until, of
from sdk.transport import ConnectionClosed
from tests.conftest import TransportUnderTest

pytestmark = [pytest.mark.anyio, pytest.mark.loopback, pytest.mark.usefixtures("transport")]

SMALL_WINDOW = 4096
"""The venue's receive buffer: a client's writes stall within kilobytes once the venue stops reading."""


class PingFlood:
    """A venue that never reads a byte, so the client's pongs pile up, and pings without end."""

    def __init__(self) -> None:
        self.pings = 0

    async def __call__(self, peer: VenuePeer) -> None:
        while True:
            await peer.ping(b"p" * 125)
            self.pings += 1

    async def stalled(self) -> None:
        """Return once the client has stopped taking pings: its pongs no longer fit anywhere."""
        with anyio.fail_after(5):
            seen = -1
            while seen != self.pings:
                seen = self.pings
                await anyio.sleep(0.2)


async def never_reached(peer: VenuePeer) -> None:
    raise AssertionError("the venue closes every connection with its upgrade")


async def test_a_peer_that_stops_reading_and_floods_pings_is_dropped_by_the_idle_watchdog(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with HostileVenue(PingFlood(), receive_buffer=SMALL_WINDOW) as venue:
        feed = sdk.connect("kraken", venue.url, idle_timeout=1.5, ping_interval=0.3, reconnect=fast_reconnect)
        async with feed:
            events = await collect_until(feed, lambda es: bool(of(Reconnected, es)), timeout=4)
    assert "nothing received" in of(Disconnected, events)[0].reason
    assert venue.connections == 2


async def test_a_write_that_cannot_complete_in_time_drops_the_connection(
    fast_reconnect: sdk.ReconnectPolicy, transport: TransportUnderTest
) -> None:
    connector = transport.connector(write_timeout=0.5)
    async with HostileVenue(PingFlood(), receive_buffer=SMALL_WINDOW) as venue:
        feed = sdk.connect("kraken", venue.url, connector=connector, idle_timeout=30, reconnect=fast_reconnect)
        async with feed:
            # filling the venue's window takes a moment on a loaded machine; the drop itself is 0.5 s
            events = await collect_until(feed, lambda es: bool(of(Disconnected, es)), timeout=10)
    assert "not reading" in of(Disconnected, events)[0].reason


async def test_leaving_a_feed_whose_peer_stopped_reading_is_prompt() -> None:
    flood = PingFlood()
    async with HostileVenue(flood, receive_buffer=SMALL_WINDOW) as venue:
        async with sdk.connect("kraken", venue.url, idle_timeout=30):
            await flood.stalled()
            leaving = anyio.current_time()
        left_after = anyio.current_time() - leaving
    assert left_after < 0.5, f"leaving the feed took {left_after:.1f} s"


async def test_a_new_feed_sees_a_close_sent_with_the_upgrade_as_a_disconnect(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    """The upgrade succeeded, so the connection was made: its end is a ``Disconnected`` with the
    venue's code, then a reconnect, exactly as when the close comes a read later (no
    ``ConnectFailed``, which would turn how TCP happened to split the bytes into a dead feed)."""
    async with (
        HostileVenue(never_reached, close_with_upgrade=1001) as venue,
        sdk.connect("kraken", venue.url, reconnect=fast_reconnect) as feed,
    ):
        events = await collect_until(feed, lambda es: bool(of(Reconnected, es)), timeout=2)
    assert "1001" in of(Disconnected, events)[0].reason


async def test_a_feed_with_subscriptions_releases_each_socket_a_venue_closes_with_the_upgrade(
    fast_reconnect: sdk.ReconnectPolicy,
) -> None:
    async with HostileVenue(never_reached, close_with_upgrade=1013) as venue:
        async with sdk.connect("kraken", venue.url, reconnect=fast_reconnect) as feed:
            await feed.subscribe(sdk.trades("BTC/USD"))
            events = await collect_until(feed, lambda es: len(of(Disconnected, es)) >= 3, timeout=3)
            await anyio.sleep(0.1)  # time for the venue to see the sockets the feed released
            assert venue.open_connections <= 1, f"{venue.open_connections} sockets left open"
        assert venue.connections >= 3
    assert all("1013" in disconnected.reason for disconnected in of(Disconnected, events))


async def _first_batches(transport: TransportUnderTest, venue: HostileVenue, count: int) -> list[bytes]:
    """The messages of the first ``count`` a connection receives, however they were batched."""
    connection = await transport.connector().connect(venue.url)
    messages: list[bytes] = []
    try:
        while len(messages) < count:
            with anyio.fail_after(5):
                messages += await connection.receive_batch()
    finally:
        await connection.close()
    return messages


async def test_fragmented_and_binary_messages_arrive_whole_and_as_bytes(transport: TransportUnderTest) -> None:
    async def fragments(peer: VenuePeer) -> None:
        await peer.send_raw(
            Frame(Opcode.TEXT, b'{"a":', fin=False).serialize(mask=False, extensions=[])
            + Frame(Opcode.CONT, b'"b', fin=False).serialize(mask=False, extensions=[])
            + Frame(Opcode.CONT, b'"}').serialize(mask=False, extensions=[])
        )
        await peer.send(b"\x00binary", "text")
        await peer.hold()

    async with HostileVenue(fragments) as venue:
        messages = await _first_batches(transport, venue, 3)
    assert messages == [b'{"a":"b"}', b"\x00binary", b"text"]


async def test_a_fragmented_message_over_the_limit_closes_with_1009(transport: TransportUnderTest) -> None:
    async def oversized(peer: VenuePeer) -> None:
        piece = Frame(Opcode.CONT, b"x" * 600, fin=False).serialize(mask=False, extensions=[])
        await peer.send_raw(Frame(Opcode.TEXT, b"x" * 600, fin=False).serialize(mask=False, extensions=[]) + piece)
        await peer.hold()

    async with HostileVenue(oversized) as venue:
        connection = await transport.connector(max_message=1000).connect(venue.url)
        with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            await connection.receive_batch()
    assert closed.value.code == 1009


async def test_the_venues_close_code_and_reason_end_the_connection_after_its_messages(
    transport: TransportUnderTest,
) -> None:
    async def closes(peer: VenuePeer) -> None:
        await peer.send("last words")
        await peer.close(4001, "an application's own code")

    async with HostileVenue(closes) as venue:
        connection = await transport.connector().connect(venue.url)
        received: list[bytes] = []
        with anyio.fail_after(5), pytest.raises(ConnectionClosed) as closed:
            while True:
                received += await connection.receive_batch()
        with pytest.raises(ConnectionClosed):
            await connection.send_text("too late")
    assert received == [b"last words"]
    assert (closed.value.code, closed.value.reason) == (4001, "an application's own code")


async def test_a_close_from_this_side_reaches_the_venue_with_its_code(transport: TransportUnderTest) -> None:
    seen: list[tuple[int, str]] = []

    async def reads(peer: VenuePeer) -> None:
        await peer.hold()
        close = peer.close_received
        seen.append((close.code, close.reason) if close is not None else (1006, ""))

    async with HostileVenue(reads) as venue:
        connection = await transport.connector().connect(venue.url)
        await connection.send_text("hello")
        await connection.close(1001, "going away")
        with pytest.raises(ConnectionClosed):
            await connection.receive_batch()
        with anyio.fail_after(5):
            while not seen:
                await anyio.sleep(0.01)
    assert seen == [(1001, "going away")]


async def test_an_abort_ends_the_connection_at_once_with_its_reason(transport: TransportUnderTest) -> None:
    async with HostileVenue(VenuePeer.hold) as venue:
        connection = await transport.connector().connect(venue.url)
        await connection.abort("given up")
        with pytest.raises(ConnectionClosed) as closed:
            await connection.receive_batch()
        with pytest.raises(ConnectionClosed):
            await connection.ping()
    assert (closed.value.code, closed.value.reason) == (1006, "given up")


async def test_a_certificate_nobody_vouches_for_is_refused(transport: TransportUnderTest, tmp_path: Path) -> None:
    """``wss://`` verifies the venue's certificate with the system's authorities: a self-signed one fails."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*_self_signed_certificate(tmp_path))
    listener = TLSListener(await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0), context)
    port = listener.listener.extra(SocketAttribute.local_port)

    async def serve(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            await stream.receive()

    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        with pytest.raises(ssl.SSLCertVerificationError):
            await transport.connector(timeout=5).connect(f"wss://127.0.0.1:{port}/")
        group.cancel_scope.cancel()


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: valid in form, trusted by no one."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "venue.pem", directory / "venue.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_path, key_path
