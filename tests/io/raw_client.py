"""A hand-driven WebSocket client for the mock-server tests: wsproto handshake, then any bytes."""

from __future__ import annotations

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from harness.server import MockServer


class RawClient:
    """A hand-driven WebSocket client: handshake via wsproto, then arbitrary bytes."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)

    @classmethod
    async def open(cls, server: MockServer, token: str) -> RawClient:
        client = cls(await trio.open_tcp_stream("127.0.0.1", server.port))
        await client.stream.send_all(
            client.ws.send(Request(host="127.0.0.1", target=f"/?token={token}"))
        )
        while True:
            client.ws.receive_data(await client.stream.receive_some(65536))
            if any(isinstance(e, AcceptConnection) for e in client.ws.events()):
                return client

    async def send_text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(data=text)))

    async def read_until_closed(self) -> int | None:
        """Read everything; the close code the server sent (None if the TCP just ended)."""
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                return None
            if not data:
                return None
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, CloseConnection):
                    return event.code
