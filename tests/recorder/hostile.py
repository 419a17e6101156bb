"""Small hostile upstreams for recorder tests: a REST server with a fixed answer, bad WS servers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial

import trio

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Handler = Callable[[trio.SocketStream], Awaitable[None]]


async def read_head(stream: trio.SocketStream) -> bytes:
    """The request head (bounded: 64 KiB, 5 s)."""
    data = b""
    with trio.move_on_after(5):
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = await stream.receive_some(4096)
            if not chunk:
                break
            data += chunk
    return data


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    """Serve ``handler`` on a loopback ephemeral port; yield the port."""

    async def guarded(stream: trio.SocketStream) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await handler(stream)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, guarded, 0, host="127.0.0.1"))
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


def rest_answer(status: int, body: bytes, *, chunked: bool = False) -> Handler:
    """Answer every request with ``status`` and ``body`` (streamed in 1 MiB pieces)."""

    async def handle(stream: trio.SocketStream) -> None:
        await read_head(stream)
        head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
        head += f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        await stream.send_all(head.encode())
        for start in range(0, len(body), 1 << 20):
            await stream.send_all(body[start : start + (1 << 20)])
        await stream.aclose()

    return handle


def token_answer(server: str) -> bytes:
    """A ``/v1/ws/new`` answer granting ``server``."""
    result = {
        "token": "hostile-ws-token-0001",
        "server": server,
        "expires_at": "2099-01-01 00:00:00",
        "max_connections": 1,
        "max_subscribe_per_connection": 4,
        "allowed_channels": ["MAIN"],
        "is_new": True,
    }
    return json.dumps({"status": 200, "errors": [], "pagination": [], "result": [result]}).encode()


async def ws_accept(stream: trio.SocketStream) -> None:
    """Complete a WebSocket opening handshake by hand."""
    head = await read_head(stream)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    await stream.send_all(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


async def invalid_utf8_then_silence(stream: trio.SocketStream) -> None:
    """Accept, send one text frame that is not UTF-8, then never answer (nor close)."""
    await ws_accept(stream)
    await stream.send_all(b"\x81\x02\xff\xfe")
    await trio.sleep_forever()


async def accept_and_say_nothing(stream: trio.SocketStream) -> None:
    """A plain TCP listener: accepts, reads, never answers (a wss:// client waits for TLS)."""
    while await stream.receive_some(4096):
        pass
    await trio.sleep_forever()
