"""The HTTP layer on a real socket: keep-alive, HEAD, CORS preflight, malformed requests,
upgrades off ``/``; and the pre-built frames parsed by an independent WebSocket parser."""

from __future__ import annotations

import httpx
import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from harness.server import open_mock_server
from harness.server.frames import reply_frame, text_frame
from tests.io.mock_helpers import API_TOKEN


async def raw_exchange(port: int, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        chunks = []
        while chunk := await stream.receive_some(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_keep_alive_head_and_preflight() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                first = await client.get("/v1/ws/new", params={"t": API_TOKEN})
                second = await client.get("/v1/ws/new/", params={"t": API_TOKEN})
                assert first.json()["result"][0]["is_new"] is True
                assert second.json()["result"][0]["is_new"] is False
                head = await client.head("/v1/token/status", params={"t": API_TOKEN})
                assert head.status_code == 200
                assert head.content == b""
                preflight = await client.options(
                    "/v1/ws/new/",
                    headers={
                        "Origin": "https://example.com",
                        "Access-Control-Request-Method": "GET",
                        "Access-Control-Request-Headers": "x-rapidapi-key",
                    },
                )
                assert preflight.status_code == 204
                assert preflight.headers["access-control-allow-origin"] == "*"
            assert server.stats.http_requests == 4


async def test_malformed_http_gets_400_and_the_server_goes_on() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            answer = await raw_exchange(server.port, b"NOT HTTP AT ALL\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400")
            assert b'"code":7' in answer
            ok = await raw_exchange(
                server.port,
                b"GET /v1/ws/new?t=x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            )
            assert ok.startswith(b"HTTP/1.1 200")
            assert server.stats.internal_errors == 0


async def test_upgrade_off_root_is_404_and_bad_upgrade_is_400() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            client = WSConnection(ConnectionType.CLIENT)
            upgrade = client.send(Request(host="127.0.0.1", target="/v1/ws/new?token=x"))
            assert (await raw_exchange(server.port, upgrade)).startswith(b"HTTP/1.1 404")
            no_key = (
                b"GET /?token=x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert (await raw_exchange(server.port, no_key)).startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_prebuilt_frames_parse_as_one_text_message(size: int) -> None:
    payload = ("é" * size).encode()[:size].decode("utf-8", "ignore").encode()
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="h", target="/")))
    list(server.events())
    client.receive_data(server.send(AcceptConnection()))
    list(client.events())
    client.receive_data(text_frame(payload))
    texts = [e for e in client.events() if isinstance(e, TextMessage)]
    assert "".join(e.data for e in texts).encode() == payload
    assert texts[-1].message_finished


def test_reply_frame_is_compact_json() -> None:
    assert reply_frame({"type": "pong", "ts": 1}) == b'\x81\x16{"type":"pong","ts":1}'
