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


def server_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Split unmasked server->client bytes into ``(opcode, payload)`` frames (RFC 6455 5.2);
    a trailing partial frame is ignored."""
    frames: list[tuple[int, bytes]] = []
    at = 0
    while at + 2 <= len(data):
        opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
        head = 2
        if length == 126:
            length, head = int.from_bytes(data[at + 2 : at + 4]), 4
        elif length == 127:
            length, head = int.from_bytes(data[at + 2 : at + 10]), 10
        if at + head + length > len(data):
            break
        frames.append((opcode, data[at + head : at + head + length]))
        at += head + length
    return frames


async def read_to_eof(stream: trio.SocketStream) -> bytes:
    """Everything the peer sends until it closes the TCP connection."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = await stream.receive_some(65536)
        except trio.BrokenResourceError:
            break
        if not chunk:
            break
        chunks.append(bytes(chunk))
    return b"".join(chunks)
