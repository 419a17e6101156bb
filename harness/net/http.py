"""HTTP/1.1 on a trio stream with h11: REST requests, and the hand-off of WebSocket upgrades.

The one front door of the mock server and the recording proxy.  Kept small on purpose: parse a
request, read its body (bounded), ask the handler, write the response, repeat (keep-alive).  A
request asking to upgrade to ``websocket`` is handed, with any bytes the client sent after it,
to the upgrade handler, which either refuses it (a response this layer writes, then closes) or
takes the stream over (:func:`replayed_head` and :class:`PrefixedStream` give a WebSocket library
the request again).  A malformed request gets 400 with the REST envelope and a close; so does a
request that began but is not complete within :data:`REQUEST_TIMEOUT_S` (a slowloris client);
an idle keep-alive connection is closed after :data:`IDLE_TIMEOUT_S`.  Every response carries
``Date``.

Strictness: a request with both ``Content-Length`` and ``Transfer-Encoding`` (RFC 9112 6.1), and
an upgrade that is not an HTTP/1.1 ``GET`` with a valid ``Sec-WebSocket-Key`` (RFC 6455 4.2.1),
are answered 400 with the REST envelope (code 7), never served.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

import h11
import trio

from harness.core.envelopes import WRONG_PARAM, compact_json, error_envelope
from harness.core.mock.rest_api import RestResponse

IDLE_TIMEOUT_S = 60.0
"""A keep-alive connection with no request for this long is closed."""
REQUEST_TIMEOUT_S = 10.0
"""A request whose first bytes arrived must be complete (head and body) within this long."""
MAX_HEAD_BYTES = 16 * 1024
"""Largest request head accepted (h11 answers 431-like errors beyond it; we send 400)."""
MAX_BODY_BYTES = 1024 * 1024
"""Largest request body kept (the control API's); a longer one is answered 413 and closed."""
RECEIVE_SIZE = 65536


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A parsed request: ``path`` without the query, ``query`` first value per name."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: tuple[tuple[str, str], ...]
    raw_headers: tuple[tuple[bytes, bytes], ...]
    http_version: str = "1.1"
    body: bytes = b""
    body_too_large: bool = False

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return next((value for key, value in self.headers if key == name), None)

    @property
    def wants_websocket(self) -> bool:
        return any(
            name == "upgrade" and "websocket" in value.lower() for name, value in self.headers
        )


RestHandler = Callable[[HttpRequest], Awaitable[RestResponse]]
UpgradeHandler = Callable[[HttpRequest, trio.abc.Stream, bytes], Awaitable[RestResponse | None]]
BadRequestObserver = Callable[[str], None]
"""Told why a request was refused with 400/413 (the proxy notes it in its recording)."""
ClientGoneObserver = Callable[[BaseException], None]
"""Told when a client left before its answer could be written (the proxy notes that too)."""


class _BadRequest(Exception):
    """A request this layer refuses itself; ``args[0]`` says why."""


def parse_request(event: h11.Request) -> HttpRequest:
    target = event.target.decode("latin-1")
    parts = urlsplit(target)
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, value)
    headers = tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in event.headers
    )
    return HttpRequest(
        method=event.method.decode("latin-1").upper(),
        target=target,
        path=parts.path or "/",
        query=query,
        headers=headers,
        raw_headers=tuple((name, value) for name, value in event.headers),
        http_version=event.http_version.decode("latin-1"),
    )


def http_date(now: float | None = None) -> str:
    """RFC 9110 6.6.1 ``Date`` value (IMF-fixdate), e.g. ``Mon, 15 Jan 2024 14:00:00 GMT``: an
    origin server with a clock sends it on every response, the 101 of an upgrade included."""
    return formatdate(time.time() if now is None else now, usegmt=True)


def framing_problem(request: HttpRequest) -> str | None:
    """RFC 9112 6.1: a request with both ``Content-Length`` and ``Transfer-Encoding`` may be a
    smuggling attempt and must be rejected; the name of the offending header, or None."""
    names = {name for name, _ in request.headers}
    return "Content-Length" if {"content-length", "transfer-encoding"} <= names else None


def upgrade_problem(request: HttpRequest) -> str | None:
    """RFC 6455 4.2.1: an opening handshake is an HTTP/1.1 (or later) ``GET`` whose
    ``Sec-WebSocket-Key`` is the base64 of 16 bytes; the name of the first part that is not, or
    None.  (wsproto checks the rest: ``Upgrade``, ``Connection``, version.)"""
    if request.method != "GET":
        return "method"
    if request.http_version != "1.1":  # h11 parses HTTP/1.0 and 1.1 only
        return "HTTP version"
    key = request.header("sec-websocket-key")
    if key is None or not _is_websocket_key(key):
        return "Sec-WebSocket-Key"
    return None


def _is_websocket_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


async def serve_http(
    stream: trio.abc.Stream,
    rest: RestHandler,
    upgrade: UpgradeHandler,
    *,
    now: Callable[[], float] = time.time,
    on_bad_request: BadRequestObserver | None = None,
    on_client_gone: ClientGoneObserver | None = None,
    keep_alive: bool = True,
) -> None:
    """Serve requests on ``stream`` until the client leaves, a response closes, or an upgrade
    takes the stream.  Transport errors end this connection only; ``now`` dates responses.
    ``keep_alive`` False: answer one request with ``Connection: close`` (the proxy's way)."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    try:
        while True:
            request = await _read_request(stream, conn)
            if request is None:
                return
            if request.body_too_large:
                if on_bad_request is not None:
                    on_bad_request("request body too large")
                await _send(stream, conn, _too_large(), head=False, close=True, date=now())
                return
            if request.wants_websocket:
                trailing, _ = conn.trailing_data
                refusal = await upgrade(request, stream, bytes(trailing))
                if refusal is not None:
                    await _send(stream, conn, refusal, head=False, close=True, date=now())
                return
            response = await rest(request)
            try:
                head = request.method == "HEAD"
                await _send(stream, conn, response, head=head, close=not keep_alive, date=now())
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                if on_client_gone is not None:
                    on_client_gone(exc)
                return
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (h11.RemoteProtocolError, _BadRequest) as exc:
        if on_bad_request is not None:
            on_bad_request(str(exc) or type(exc).__name__)
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await _send(stream, conn, _bad_request(), head=False, close=True, date=now())
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return


def replayed_head(request: HttpRequest, trailing: bytes) -> bytes:
    """The request head as the client sent it (byte for byte but for header-name case), with
    what followed it: for handing an upgrade to a WebSocket library that reads the handshake
    itself, through :class:`PrefixedStream`."""
    lines = [f"{request.method} {request.target} HTTP/{request.http_version}".encode("latin-1")]
    lines += [name + b": " + value for name, value in request.raw_headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + trailing


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


async def _read_request(stream: trio.abc.Stream, conn: h11.Connection) -> HttpRequest | None:
    """The next request with its body (up to :data:`MAX_BODY_BYTES`); None when the client
    closed or idled out.  A request begun but not complete in time is :class:`_BadRequest`."""
    request: HttpRequest | None = None
    body: list[bytes] = []
    size = 0
    with trio.CancelScope(deadline=trio.current_time() + IDLE_TIMEOUT_S) as scope:
        begun = bool(conn.trailing_data[0])
        if begun:
            scope.deadline = trio.current_time() + REQUEST_TIMEOUT_S
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = bytes(await stream.receive_some(RECEIVE_SIZE))
                if data and not begun:
                    begun = True
                    scope.deadline = trio.current_time() + REQUEST_TIMEOUT_S
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                request = parse_request(event)
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size <= MAX_BODY_BYTES:
                    body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                if request is None:
                    return None
                if framing_problem(request) is not None:
                    raise _BadRequest("both Content-Length and Transfer-Encoding")
                too_large = size > MAX_BODY_BYTES
                return dataclasses.replace(request, body=b"".join(body), body_too_large=too_large)
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None
    if begun:
        raise _BadRequest(f"no complete request within {REQUEST_TIMEOUT_S:g} s")
    return None


async def _send(
    stream: trio.abc.Stream,
    conn: h11.Connection,
    response: RestResponse,
    *,
    head: bool,
    close: bool,
    date: float,
) -> None:
    headers = [*response.headers, ("Date", http_date(date))]
    if response.status != 204:
        headers.append(("Content-Length", str(len(response.body))))
    if close:
        headers.append(("Connection", "close"))
    reason = HTTPStatus(response.status).phrase if response.status in _KNOWN else ""
    data = conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
    if response.body and not head and response.status != 204:
        data += conn.send(h11.Data(data=response.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    await stream.send_all(data or b"")


_KNOWN = frozenset(status.value for status in HTTPStatus)


def _bad_request() -> RestResponse:
    body = compact_json(WRONG_PARAM.body("request"))
    return RestResponse(400, (("Content-Type", "application/json"),), body)


def _too_large() -> RestResponse:
    body = compact_json(error_envelope(413, WRONG_PARAM.code, "request body too large"))
    return RestResponse(413, (("Content-Type", "application/json"),), body)
