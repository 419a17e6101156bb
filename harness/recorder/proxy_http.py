"""The proxy's front door: one port for REST and WebSocket upgrades, on trio streams.

The request head is read first; an upgrade is handed to trio-websocket with the bytes already
read put back in front of the stream (:class:`PrefixedStream`), anything else is parsed with h11
and answered once (``Connection: close``), which every HTTP client handles.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
import trio

from harness.errors import HarnessError

HEAD_LIMIT = 64 * 1024
BODY_LIMIT = 1024 * 1024
HEAD_TIMEOUT_S = 10.0


class BadRequest(HarnessError):
    """The client sent something that is not a usable HTTP request (answered with a 400)."""


class PrefixedStream(trio.abc.Stream):
    """A stream that first yields ``prefix``, then whatever the wrapped stream receives."""

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self._stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        return bytes(await self._stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self._stream.aclose()


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """A REST request as the client sent it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    is_upgrade: bool
    raw_head: bytes


async def read_request(stream: trio.abc.Stream) -> IncomingRequest | None:
    """Read one request (head, and body unless it is an upgrade); None if the peer left.

    Anything h11 refuses (request line, header, chunk framing, length) is :class:`BadRequest`,
    and so is a head that does not arrive within ``HEAD_TIMEOUT_S``.
    """
    try:
        with trio.fail_after(HEAD_TIMEOUT_S):
            return await _read_request(stream)
    except h11.ProtocolError as exc:
        raise BadRequest(str(exc) or type(exc).__name__) from None
    except trio.TooSlowError:
        raise BadRequest(f"no complete request head within {HEAD_TIMEOUT_S:g} s") from None


async def _read_request(stream: trio.abc.Stream) -> IncomingRequest | None:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > HEAD_LIMIT:
            raise BadRequest("request head too large")
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(buffer)
    event = parser.next_event()
    if not isinstance(event, h11.Request):
        raise BadRequest("not an HTTP request")
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers)
    upgrade = any(k == "upgrade" and "websocket" in v.lower() for k, v in headers)
    body = b"" if upgrade else await _read_body(stream, parser)
    return IncomingRequest(
        event.method.decode(), event.target.decode("latin-1"), headers, body, upgrade, buffer
    )


async def _read_body(stream: trio.abc.Stream, parser: h11.Connection) -> bytes:
    body = b""
    while True:
        event = parser.next_event()
        if event is h11.NEED_DATA:
            parser.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
            if len(body) > BODY_LIMIT:
                raise BadRequest("request body too large")
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return body
        else:
            raise BadRequest("unexpected HTTP event")


async def send_response(
    stream: trio.abc.Stream, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    """Answer once and close: ``Content-Length`` and ``Connection: close`` are set here."""
    writer = h11.Connection(h11.SERVER)
    # h11 needs to have seen a request before it writes a response.
    writer.receive_data(b"GET / HTTP/1.1\r\nHost: proxy\r\n\r\n")
    writer.next_event()
    all_headers = [*headers, ("content-length", str(len(body))), ("connection", "close")]
    data = writer.send(h11.Response(status_code=status, headers=all_headers))
    data = (data or b"") + (writer.send(h11.Data(data=body)) or b"")
    data += writer.send(h11.EndOfMessage()) or b""
    await stream.send_all(data)
    await stream.aclose()
