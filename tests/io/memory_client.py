"""A WebSocket client wired to the mock through in-memory streams (no socket at all).

:meth:`MockServer.handle_stream` serves any trio stream, so a test can hand it one half of a
memory stream and drive the other half with wsproto.  Bytes put with :meth:`put` are there at
once, before any server task runs: a test decides exactly what is waiting for the server when
it next reads, and everything runs in one trio run (so ``autojump_clock`` is safe).
"""

from __future__ import annotations

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Event, Request

from harness.server import MockServer


class MemoryClient:
    """A hand-driven client: wsproto on one side, the mock's ``handle_stream`` on the other."""

    def __init__(self) -> None:
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.to_server = trio.testing.MemoryReceiveStream()
        self.from_server = trio.testing.MemorySendStream()
        self.received = b""
        """Every byte the server sent after the 101 response."""

    @classmethod
    async def open(cls, server: MockServer, nursery: trio.Nursery) -> MemoryClient:
        """Connect with a fresh WS token and complete the handshake."""
        client = cls()
        stream = trio.StapledStream(client.from_server, client.to_server)
        nursery.start_soon(server.handle_stream, stream)
        target = f"/?token={server.new_ws_token()}"
        client.put(client.ws.send(Request(host="127.0.0.1", target=target)))
        for _ in range(100):  # bounded: the 101 comes in one or two reads
            client.ws.receive_data(bytes(await client.from_server.get_data()))
            if any(isinstance(event, AcceptConnection) for event in client.ws.events()):
                return client
        raise AssertionError("no 101 response")

    def put(self, data: bytes) -> None:
        """Make ``data`` readable by the server now (no checkpoint)."""
        self.to_server.put_data(data)

    async def next_events(self) -> list[Event]:
        """Wait for more bytes from the server; the events they complete."""
        data = bytes(await self.from_server.get_data())
        self.received += data
        self.ws.receive_data(data)
        return list(self.ws.events())
