"""The HTTP layer on a real socket: keep-alive, HEAD, CORS preflight, malformed requests,
upgrades off ``/``; and the pre-built frames parsed by an independent WebSocket parser."""

from __future__ import annotations

import email.utils
import json

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


def _upgrade(
    *, method: str = "GET", version: str = "1.1", key: str = "dGhlIHNhbXBsZSBub25jZQ=="
) -> bytes:
    return (
        f"{method} /?token=x HTTP/{version}\r\nHost: a\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("request_bytes", "param"),
    [
        (_upgrade(key="short"), "Sec-WebSocket-Key"),
        (_upgrade(key="c2hvcnQ="), "Sec-WebSocket-Key"),  # base64, but of 5 bytes
        (_upgrade(method="POST"), "method"),
        (_upgrade(version="1.0"), "HTTP version"),
    ],
)
async def test_a_non_conforming_handshake_is_400_with_the_envelope(
    request_bytes: bytes, param: str
) -> None:
    # RFC 6455 4.2.1: an HTTP/1.1 GET with the base64 of a 16-byte key, or 400
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = server.new_ws_token()
            answer = await raw_exchange(
                server.port, request_bytes.replace(b"=x ", f"={token} ".encode())
            )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(body)["errors"] == [{"code": 7, "message": f"Wrong {param} param"}]


async def test_content_length_with_transfer_encoding_is_400() -> None:
    # RFC 9112 6.1: both framing headers is a request smuggling risk: reject it
    request = (
        b"POST /v1/ws/new?t=x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with trio.fail_after(10):
        async with open_mock_server() as server:
            answer = await raw_exchange(server.port, request)
            ok = await raw_exchange(
                server.port, b"GET /v1/ws/new?t=x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
    assert answer.startswith(b"HTTP/1.1 400")
    assert b'"code":7' in answer
    assert ok.startswith(b"HTTP/1.1 200")


async def test_every_response_and_the_101_carry_a_date() -> None:
    # RFC 9110 6.6.1: an origin server with a clock sends Date on every response
    with trio.fail_after(10):
        async with open_mock_server() as server:
            async with httpx.AsyncClient(base_url=server.base_url) as client:
                answers = [
                    await client.get("/v1/ws/new", params={"t": API_TOKEN}),
                    await client.get("/nowhere"),
                    await client.options("/v1/ws/new/"),
                ]
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with stream:
                token = server.new_ws_token()
                await stream.send_all(_upgrade().replace(b"=x ", f"={token} ".encode()))
                head = b""
                while b"\r\n\r\n" not in head:
                    head += await stream.receive_some(65536)
    for answer in answers:
        assert email.utils.parsedate_to_datetime(answer.headers["date"]).tzinfo is not None
    assert head.startswith(b"HTTP/1.1 101")
    dates = [line for line in head.split(b"\r\n") if line.lower().startswith(b"date: ")]
    assert len(dates) == 1
    assert dates[0].endswith(b" GMT")
