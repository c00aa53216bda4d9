"""The transport alone: WebSocket messages a second received in a burst over loopback, per connector.

A venue process (on another core) answers the upgrade and then writes a whole corpus of Kraken v1
frames at once; the client (this process, one core) opens a connection with each connector and
takes batches until it has every message. Nothing decodes them: this is the cost of the frame
reader and of the hand-off to the feed, the part ``xfeeds[fast]`` replaces.

    python -m bench.transport [--frames 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
from collections.abc import Callable

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from bench.corpus import kraken_v1_frames
from bench.timing import compare, pin_to_one_core, report
from sdk.connection import Connector, Transport, fast_transport_installed, transport_connector


def _serve(listener: socket.socket, burst: bytes) -> None:
    """Answer each connection's upgrade, write the burst, and wait for the client to leave."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    while True:
        client, _ = listener.accept()
        with client:
            protocol = ServerProtocol()
            while True:
                protocol.receive_data(client.recv(65_536))
                requests = [event for event in protocol.events_received() if isinstance(event, Request)]
                if requests:
                    break
            protocol.send_response(protocol.accept(requests[0]))
            client.sendall(b"".join(protocol.data_to_send()) + burst)
            while client.recv(65_536):  # until the client closes
                pass


def _receive_all(connector: Connector, url: str, count: int) -> Callable[[], int]:
    async def receive() -> int:
        connection = await connector.connect(url)
        received = 0
        while received < count:
            received += len(await connection.receive_batch())
        await connection.close()
        return received

    return lambda: asyncio.run(receive())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    options = parser.parse_args()
    frames = kraken_v1_frames(options.frames)
    burst = b"".join(Frame(Opcode.TEXT, frame.encode()).serialize(mask=False, extensions=[]) for frame in frames)
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{listener.getsockname()[1]}/"
    venue = multiprocessing.Process(target=_serve, args=(listener, burst), daemon=True)
    venue.start()
    try:
        pin_to_one_core()
        transports: list[Transport] = ["websockets", "picows"] if fast_transport_installed() else ["websockets"]
        results = compare(
            {name: _receive_all(transport_connector(name), url, len(frames)) for name in transports},
            baseline="websockets",
        )
        report(
            f"WebSocket messages received in a burst ({len(frames):,} Kraken v1 frames, "
            f"{len(burst) / len(frames):.0f} bytes each on average)",
            results,
            "messages",
            "websockets",
        )
    finally:
        venue.terminate()


if __name__ == "__main__":
    main()
