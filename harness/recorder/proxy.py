"""Proxy recording: your own client talks to a local endpoint that records the whole session.

REST calls are forwarded upstream with the real API token in place of whatever the client sent;
token answers come back with local WS tokens and a ``server`` URL pointing at the proxy; the
WebSocket is relayed both ways, close codes included.  What is recorded is the upstream side
(exchanges, frames, closes), through the same redacting tee as ``harness record``, so a later
replay reproduces what the client saw, and the client never holds a real secret.
"""

from __future__ import annotations

import itertools
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import httpx
import trio
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    wrap_server_stream,
)

from harness.core.envelopes import MISSING_PARAM, compact_json
from harness.core.mock.rest_api import RestResponse
from harness.core.protocol import classify_frame, error_envelope
from harness.core.records import Direction, HttpExchange, Initiator, NoteKind, WsClose, WsOpen
from harness.core.redact import API_PLACEHOLDER
from harness.net.http import (
    REQUEST_TIMEOUT_S,
    HttpRequest,
    PrefixedStream,
    replayed_head,
    serve_http,
)
from harness.recorder.live import RecordResult, StoppableRecorder
from harness.recorder.proxy_rules import (
    ClientScrubber,
    TokenMap,
    client_response_headers,
    client_token,
    is_token_path,
    local_token_of,
    rewrite_token_body,
    upstream_headers,
    upstream_target,
)
from harness.recorder.rest_client import HTTP_TIMEOUT_S, RAPIDAPI_HOST, recorded_exchange
from harness.recorder.tee import Tee

DEFAULT_PROXY_PORT = 8765
CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
STOP_GRACE_S = 10.0
ABNORMAL_CLOSURE = 1006
UPSTREAM_LOST = 1011  # what the client is told when the upstream stream broke without a close
_CLIENT_GONE = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed)
_JSON = (("content-type", "application/json"),)


@dataclass(frozen=True, slots=True)
class ProxyOptions:
    """Where to listen, where to forward, for how long."""

    api_base: str
    rapidapi: bool = False
    host: str = "127.0.0.1"
    port: int = DEFAULT_PROXY_PORT
    duration_s: float | None = None
    http_timeout_s: float = HTTP_TIMEOUT_S
    ssl_context: ssl.SSLContext | None = None  # to verify the upstream


class ProxyRecorder(StoppableRecorder):
    """Serves the proxy until the duration ends or :meth:`request_stop` is called."""

    def __init__(
        self,
        tee: Tee,
        options: ProxyOptions,
        *,
        api_token: str,
        on_listening: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(tee)
        self.options = options
        self._api_token = api_token
        self._on_listening = on_listening
        self._tokens = TokenMap()
        placeholder = tee.redactor.add_secret(api_token) or f"<{API_PLACEHOLDER}>"
        self._scrub = ClientScrubber(api_token, placeholder)
        self._conn_ids = itertools.count(1)
        self.base_url = ""
        self.listening = trio.Event()
        self._active_relays = 0
        self._relays_closed = trio.Event()

    async def run(self) -> RecordResult:
        """Serve the proxy and record until the duration ends or a stop is requested."""
        options = self.options
        verify: ssl.SSLContext | bool = options.ssl_context or True
        async with httpx.AsyncClient(timeout=options.http_timeout_s, verify=verify) as client:
            listeners = await trio.open_tcp_listeners(options.port, host=options.host)
            port = listeners[0].socket.getsockname()[1]
            self.base_url = f"http://{options.host}:{port}"
            self.tee.note(
                NoteKind.PROXY,
                "proxy listening",
                {"base_url": self.base_url, "upstream": options.api_base},
            )
            async with trio.open_nursery() as nursery:
                handler = partial(self._handle, client)
                nursery.start_soon(partial(trio.serve_listeners, handler, listeners))
                self.listening.set()
                if self._on_listening is not None:
                    self._on_listening(self.base_url)
                with trio.move_on_after(options.duration_s or math.inf):
                    await self._stop.wait()
                self._stop.set()
                nursery.cancel_scope.deadline = trio.current_time() + STOP_GRACE_S
                await self._wait_relays_closed()
                nursery.cancel_scope.cancel()
        self.tee.note(NoteKind.STOP, self._stopped_by)
        return RecordResult(self._stopped_by, next(self._conn_ids) - 1, self.stats)

    async def _wait_relays_closed(self) -> None:
        if self._active_relays:
            await self._relays_closed.wait()

    async def _handle(self, client: httpx.AsyncClient, stream: trio.SocketStream) -> None:
        """Serve one client connection through the shared front door; nothing that happens on it
        may stop the proxy.

        A bad request is answered 400 (the REST envelope) and noted (``bad-request``); a client
        that vanished before its answer is noted (``client-gone``); anything else is noted as an
        ``error``.  The proxy goes on.
        """
        try:
            await serve_http(
                stream,
                partial(self._forward_rest, client),
                self._upgrade,
                on_bad_request=self._note_bad_request,
                on_client_gone=self._note_client_gone,
                keep_alive=False,  # one answer per connection, as before: simplest for clients
            )
        except Exception as exc:  # one connection must never end the recording
            if _is_client_gone(exc):
                self._note_client_gone(exc)
            else:
                self.tee.note(NoteKind.ERROR, f"proxy connection failed: {_describe(exc)}")
        finally:
            await trio.aclose_forcefully(stream)

    async def _upgrade(
        self, request: HttpRequest, stream: trio.abc.Stream, trailing: bytes
    ) -> None:
        """Hand the handshake to trio-websocket, which reads it again, and relay the socket."""
        async with trio.open_nursery() as nursery:
            prefixed = PrefixedStream(stream, replayed_head(request, trailing))
            with trio.fail_after(REQUEST_TIMEOUT_S):
                ws_request = await wrap_server_stream(nursery, prefixed)
            await self._relay(ws_request)
            nursery.cancel_scope.cancel()

    def _note_bad_request(self, reason: str) -> None:
        self.tee.note(
            NoteKind.BAD_REQUEST, "refused a malformed client request", {"reason": reason}
        )

    def _note_client_gone(self, exc: BaseException) -> None:
        self.tee.note(NoteKind.CLIENT_GONE, "the client left before the answer", _why(exc))

    async def _forward_rest(self, client: httpx.AsyncClient, request: HttpRequest) -> RestResponse:
        """Forward with the real credentials, record, answer the client (local WS tokens, no
        spelling of the real token).  A request without any token is answered here, 400 code 1,
        as the service would: forwarding it with the real token would hide the client's bug."""
        own = client_token(request.target, request.headers)
        if own is None and request.method != "OPTIONS":  # a CORS preflight carries no token
            return self._refuse_missing_token(request)
        options, token = self.options, self._api_token
        url = upstream_target(
            request.target, api_base=options.api_base, api_token=token, rapidapi=options.rapidapi
        )
        headers = upstream_headers(
            request.headers, api_token=token, rapidapi=options.rapidapi, rapidapi_host=RAPIDAPI_HOST
        )
        outgoing = client.build_request(
            request.method, url, headers=headers, content=request.body or None
        )
        answer = await recorded_exchange(client, self.tee, outgoing)
        if answer.error is not None:
            envelope = error_envelope(502, 6, "Upstream unreachable")
            return RestResponse(502, _JSON, _json_bytes(envelope))
        body = answer.body
        if answer.status == 200 and is_token_path(request.target):
            ws_base = self.base_url.replace("http://", "ws://", 1)
            body = rewrite_token_body(body, self._tokens, ws_base=ws_base)
        headers = self._scrub.headers(client_response_headers(answer.headers), own)
        return RestResponse(answer.status, tuple(headers), self._scrub.data(body, own))

    def _refuse_missing_token(self, request: HttpRequest) -> RestResponse:
        """Answer and record the documented 400 code 1 (``Missing t param``) locally."""
        body = _json_bytes(MISSING_PARAM.body("t"))
        # rapidapi=True: the URL as it would go upstream, without any ``t``
        url = upstream_target(
            request.target, api_base=self.options.api_base, api_token="", rapidapi=True
        )
        sent = tuple(request.headers)
        self.tee.add(
            HttpExchange(
                self.tee.now_ns(),
                request.method,
                url,
                MISSING_PARAM.http_status,
                body,
                sent,
                _JSON,
            )
        )
        self.tee.note(
            NoteKind.PROXY, "answered locally: the client request carried no token", {"url": url}
        )
        return RestResponse(MISSING_PARAM.http_status, _JSON, body)

    async def _relay(self, ws_request: WebSocketRequest) -> None:
        local = local_token_of(ws_request.path)
        server = self._tokens.upstream_server(local) if local else None
        if not server:
            envelope = error_envelope(401, 2, "Token is invalid")
            await ws_request.reject(401, body=_json_bytes(envelope))
            return
        self._active_relays += 1
        try:
            await self._relay_to(ws_request, server)
        finally:
            self._active_relays -= 1
            if not self._active_relays and self._stop.is_set():
                self._relays_closed.set()

    async def _relay_to(self, ws_request: WebSocketRequest, server: str) -> None:
        """Open the upstream side first, so a refusal reaches the client as the same refusal."""
        conn_id = next(self._conn_ids)
        t_open = self.tee.now_ns()
        opened = False
        try:
            async with open_websocket_url(
                server,
                self.options.ssl_context,
                connect_timeout=CONNECT_TIMEOUT_S,
                disconnect_timeout=CLOSE_TIMEOUT_S,
            ) as upstream:
                opened = True
                self.tee.add(WsOpen(t_open, conn_id, server, 101))
                downstream = await ws_request.accept()
                relay = _Relay(self.tee, conn_id, upstream, downstream, self._stop, self._scrub)
                await relay.run()
        except ConnectionRejected as exc:
            self.tee.add(
                WsOpen(
                    t_open,
                    conn_id,
                    server,
                    exc.status_code,
                    (exc.body or b"").decode("utf-8", "replace") or "rejected",
                )
            )
            await ws_request.reject(exc.status_code, body=self._scrub.data(exc.body or b""))
        except HandshakeError as exc:
            if opened:  # only the closing handshake timed out; the close is recorded
                return
            self.tee.add(WsOpen(t_open, conn_id, server, 0, repr(exc.__cause__ or exc)))
            await ws_request.reject(502)


class _Relay:
    """Both directions of one relayed connection, recorded; the first close ends both."""

    def __init__(
        self,
        tee: Tee,
        conn_id: int,
        upstream: WebSocketConnection,
        downstream: WebSocketConnection,
        stop: trio.Event,
        scrub: ClientScrubber,
    ) -> None:
        self.tee, self.conn_id, self.stop, self.scrub = tee, conn_id, stop, scrub
        self.upstream, self.downstream = upstream, downstream
        self.recorded_close = False

    async def run(self) -> None:
        self.tee.stats.open_connections += 1
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump_up, nursery.cancel_scope)
                nursery.start_soon(self._pump_down, nursery.cancel_scope)
                nursery.start_soon(self._close_on_stop, nursery.cancel_scope)
        finally:
            self.tee.stats.open_connections -= 1

    async def _pump_up(self, scope: trio.CancelScope) -> None:
        """Client to upstream: record, forward; the client's close is passed on."""
        while True:
            try:
                message = await self.downstream.get_message()
            except ConnectionClosed as closed:
                if self.stop.is_set():
                    return  # _close_on_stop closes both sides
                code, reason = _code_reason(closed)
                self._record_close(code, reason, Initiator.CLIENT)
                with trio.move_on_after(CLOSE_TIMEOUT_S):
                    await self.upstream.aclose(code or 1000, reason)
                scope.cancel()
                return
            payload = message.encode() if isinstance(message, str) else message
            self.tee.message(
                self.conn_id, Direction.CLIENT_TO_SERVER, payload, is_text=isinstance(message, str)
            )
            try:
                await self.upstream.send_message(message)
            except ConnectionClosed:
                return  # _pump_down sees the close and records it

    async def _pump_down(self, scope: trio.CancelScope) -> None:
        """Upstream to client: record, forward; the server's close is passed on."""
        while True:
            try:
                message = await self.upstream.get_message()
            except ConnectionClosed as closed:
                if self.stop.is_set():
                    return  # our own close of the upstream: the client still gets its 1001
                code, reason = _code_reason(closed)
                lost = code is None or code == ABNORMAL_CLOSURE
                self._record_close(
                    None if lost else code, reason, Initiator.ABRUPT if lost else Initiator.SERVER
                )
                with trio.move_on_after(CLOSE_TIMEOUT_S):
                    await self.downstream.aclose(
                        UPSTREAM_LOST if lost else code or 1000, self.scrub.text(reason)
                    )
                scope.cancel()
                return
            t_ns = self.tee.now_ns()
            payload = message.encode() if isinstance(message, str) else message
            self.tee.message(
                self.conn_id,
                Direction.SERVER_TO_CLIENT,
                payload,
                is_text=isinstance(message, str),
                info=classify_frame(payload),
                t_ns=t_ns,
            )
            try:
                await self.downstream.send_message(
                    self.scrub.text(message)
                    if isinstance(message, str)
                    else self.scrub.data(bytes(message))
                )
            except ConnectionClosed:
                return  # _pump_up sees the close and records it

    async def _close_on_stop(self, scope: trio.CancelScope) -> None:
        await self.stop.wait()
        self._record_close(1000, "recording finished", Initiator.CLIENT)
        with trio.move_on_after(CLOSE_TIMEOUT_S):
            await self.upstream.aclose(1000, "recording finished")
        with trio.move_on_after(CLOSE_TIMEOUT_S):
            await self.downstream.aclose(1001, "recording proxy stopping")
        scope.cancel()

    def _record_close(self, code: int | None, reason: str, initiator: Initiator) -> None:
        if not self.recorded_close:
            self.recorded_close = True
            self.tee.add(WsClose(self.tee.now_ns(), self.conn_id, code, reason, initiator))


def _is_client_gone(exc: BaseException) -> bool:
    """True when ``exc`` (or every exception of a group) says the client's socket went away."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_client_gone(inner) for inner in exc.exceptions)
    return isinstance(exc, _CLIENT_GONE)


def _why(exc: BaseException) -> dict[str, str]:
    return {"error": _describe(exc)}


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _code_reason(closed: ConnectionClosed) -> tuple[int | None, str]:
    reason = closed.reason
    return (reason.code, reason.reason or "") if reason is not None else (None, "")


def _json_bytes(document: object) -> bytes:
    return compact_json(document)
