"""No byte the proxy sends its client holds the API token, whatever the upstream echoes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import h11
import httpx
import pytest
import trio
from trio_websocket import (
    CloseReason,
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)

from harness.core.records import HttpExchange
from harness.server import ServerConfig, open_mock_server
from tests.spellings import spellings

from .conftest import API_TOKEN, read_records
from .proxy_helpers import assert_no_spelling, raw_exchange, running_proxy

ECHO = " ".join(spellings(API_TOKEN))
UPSTREAM_WS_TOKEN = "upstream-ws-token-4242"


async def _echo_http(ws_url: str, stream: trio.SocketStream) -> None:
    """REST upstream: every answer echoes the token in every spelling, in body and headers."""
    parser = h11.Connection(h11.SERVER)
    while not isinstance(event := parser.next_event(), h11.Request):
        parser.receive_data(await stream.receive_some(65536))
    target = event.target.decode()
    mode = "reject" if "/renew" in target else "ok"
    item = {
        "token": UPSTREAM_WS_TOKEN,
        "server": f"{ws_url}?token={UPSTREAM_WS_TOKEN}&mode={mode}",
        "echo": ECHO,
        "url": f"https://api/?t={API_TOKEN}",
    }
    body = json.dumps({"status": 200, "errors": [], "pagination": [], "result": [item]}).encode()
    headers = [
        ("content-type", f"application/json; x={API_TOKEN}"),
        ("x-rate-limit-limit", spellings(API_TOKEN)[3]),
        ("retry-after", spellings(API_TOKEN)[-1]),
        ("content-length", str(len(body))),
    ]
    out = parser.send(h11.Response(status_code=200, headers=headers)) or b""
    out += (parser.send(h11.Data(data=body)) or b"") + (parser.send(h11.EndOfMessage()) or b"")
    await stream.send_all(out)
    await stream.aclose()


async def _echo_ws(request: WebSocketRequest) -> None:
    """WS upstream: frames (text and binary) and the close reason echo the token."""
    if "mode=reject" in request.path:
        await request.reject(401, body=ECHO.encode())
        return
    ws = await request.accept()
    for form in spellings(API_TOKEN):
        await ws.send_message(json.dumps({"type": "goal", "echo": form}))
    await ws.send_message(ECHO.encode())
    await ws.aclose(4000, f"bye {API_TOKEN} {spellings(API_TOKEN)[-1]}")


async def read_until_closed(ws: WebSocketConnection) -> tuple[list[bytes], CloseReason | None]:
    received: list[bytes] = []
    while True:
        try:
            message = await ws.get_message()
        except ConnectionClosed as closed:
            return received, closed.reason
        received.append(message.encode() if isinstance(message, str) else message)


@asynccontextmanager
async def echoing_upstream() -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        ws_server = await nursery.start(partial(serve_websocket, _echo_ws, "127.0.0.1", 0, None))
        ws_url = f"ws://127.0.0.1:{ws_server.port}/"
        listeners = await nursery.start(partial(trio.serve_tcp, partial(_echo_http, ws_url), 0))
        yield f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        nursery.cancel_scope.cancel()


async def test_an_echoing_upstream_never_gets_the_token_to_the_client(tmp_path: Path) -> None:
    path = tmp_path / "echo.msgpack"
    with trio.fail_after(20):
        async with echoing_upstream() as api_base, running_proxy(path, api_base) as proxy:
            rest = await raw_exchange(proxy, b"GET /v1/ws/new/?t=fake HTTP/1.1\r\nHost: p\r\n\r\n")
            assert_no_spelling(rest, API_TOKEN)
            assert b"fake" in rest  # the client's own token stands in for the echoed one
            grant = json.loads(rest.partition(b"\r\n\r\n")[2])["result"][0]
            async with open_websocket_url(grant["server"]) as ws:
                received, reason = await read_until_closed(ws)
            assert reason is not None
            assert reason.code == 4000
            received.append((reason.reason or "").encode())
            assert len(received) == len(spellings(API_TOKEN)) + 2
            for data in received:
                assert_no_spelling(data, API_TOKEN)
            assert b"<API_TOKEN>" in received[0]
            async with httpx.AsyncClient() as http:  # the renew grant's server refuses
                renew = await http.get(f"{proxy.base_url}/v1/ws/renew/", params={"t": "fake"})
            refused_url = renew.json()["result"][0]["server"]
            with pytest.raises(Exception) as refused:  # noqa: PT011 - trio-websocket's rejection
                async with open_websocket_url(refused_url):
                    pass
            assert_no_spelling(repr(refused.value).encode(), API_TOKEN)
            body = getattr(refused.value, "body", b"") or b""
            assert body
            assert_no_spelling(body, API_TOKEN)


async def test_token_status_shows_the_client_its_own_token(tmp_path: Path) -> None:
    path = tmp_path / "status.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_proxy(path, server.base_url) as proxy,
        ):
            raw = await raw_exchange(
                proxy, b"GET /v1/token/status/?t=my-own-token HTTP/1.1\r\nHost: p\r\n\r\n"
            )
    assert_no_spelling(raw, API_TOKEN)
    assert json.loads(raw.partition(b"\r\n\r\n")[2])["result"][0]["token"] == "my-own-token"


@pytest.mark.parametrize("target", ["/v1/ws/new/", "/v1/token/status?t=", "/v1/ws/renew/?x=1"])
async def test_a_request_without_a_token_gets_missing_t_param(tmp_path: Path, target: str) -> None:
    path = tmp_path / "missing.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_proxy(path, server.base_url) as proxy,
            httpx.AsyncClient() as http,
        ):
            answer = await http.get(f"{proxy.base_url}{target}")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"code": 1, "message": "Missing t param"}]
    exchange = next(r for r in read_records(path) if isinstance(r, HttpExchange))
    assert exchange.status == 400
    assert b"Missing t param" in exchange.body
