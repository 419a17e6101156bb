"""The shared HTTP front door (``harness.net.http``) on in-memory streams, under trio's
MockClock: request deadlines, the observers, and an upgrade replayed for a WebSocket library."""

from __future__ import annotations

import h11
import trio
import trio.testing

from harness.core.mock.rest_api import RestResponse
from harness.net.http import (
    IDLE_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    HttpRequest,
    PrefixedStream,
    parse_request,
    replayed_head,
    serve_http,
)

OK = RestResponse(200, (("Content-Type", "application/json"),), b"{}")
GET = b"GET /v1/ws/new/?t=k HTTP/1.1\r\nHost: h\r\n\r\n"


async def answer_ok(request: HttpRequest) -> RestResponse:
    return OK


async def no_upgrade(request: HttpRequest, stream: trio.abc.Stream, trailing: bytes) -> None:
    raise AssertionError("no upgrade expected")


async def _read_all(stream: trio.abc.Stream) -> bytes:
    chunks = []
    while chunk := await stream.receive_some(65536):
        chunks.append(chunk)
    return b"".join(chunks)


async def _serve(client_sends: list[bytes], *, pause_s: float = 0.0) -> tuple[bytes, list[str]]:
    """Serve one connection whose client sends ``client_sends`` (``pause_s`` after the first)
    and then waits; the server's output and what ``on_bad_request`` was told."""
    client, server = trio.testing.memory_stream_pair()
    refused: list[str] = []

    async def serve() -> None:
        async with server:  # closed after, as the server and the proxy do
            await serve_http(server, answer_ok, no_upgrade, on_bad_request=refused.append)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        for index, data in enumerate(client_sends):
            if index:
                await trio.sleep(pause_s)
            await client.send_all(data)
        output = await _read_all(client)
    return output, refused


async def test_a_request_that_never_completes_is_400_after_the_request_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    output, refused = await _serve([b"GET /v1/ws/new/ HTTP/1.1\r\nHost: h\r\n"])
    assert output.startswith(b"HTTP/1.1 400")
    assert refused == [f"no complete request within {REQUEST_TIMEOUT_S:g} s"]
    assert trio.current_time() - start == REQUEST_TIMEOUT_S


async def test_an_idle_keep_alive_connection_closes_quietly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    output, refused = await _serve([GET])
    assert output.count(b"HTTP/1.1 200") == 1
    assert refused == []
    assert trio.current_time() - start == IDLE_TIMEOUT_S


async def test_a_slow_but_timely_request_is_answered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    output, refused = await _serve([GET[:10], GET[10:]], pause_s=REQUEST_TIMEOUT_S / 2)
    assert output.startswith(b"HTTP/1.1 200")
    assert refused == []


async def test_a_malformed_request_is_told_to_the_observer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    output, refused = await _serve([b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n"])
    assert output.startswith(b"HTTP/1.1 400")
    assert b'"code":7' in output
    assert len(refused) == 1
    assert refused[0]


async def test_a_client_gone_before_its_answer_is_told_to_the_observer() -> None:
    client, server = trio.testing.memory_stream_pair()
    gone: list[BaseException] = []

    async def close_then_answer(request: HttpRequest) -> RestResponse:
        await client.aclose()
        return OK

    await client.send_all(GET)
    with trio.fail_after(5):
        await serve_http(server, close_then_answer, no_upgrade, on_client_gone=gone.append)
    assert [type(e) for e in gone] == [trio.BrokenResourceError]


def _parsed(head: bytes) -> HttpRequest:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(head)
    event = conn.next_event()
    assert isinstance(event, h11.Request)
    return parse_request(event)


async def test_an_upgrade_is_replayed_byte_for_byte_with_what_followed() -> None:
    head = (
        b"GET /?token=abc HTTP/1.1\r\nhost: h\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    replayed = replayed_head(_parsed(head), b"\x81\x00")
    assert replayed == head + b"\x81\x00"
    left, right = trio.testing.memory_stream_pair()
    await left.send_all(b"rest")
    prefixed = PrefixedStream(right, replayed)
    assert await prefixed.receive_some() == replayed
    assert await prefixed.receive_some() == b"rest"
