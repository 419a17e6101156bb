"""A proxy serves until it is stopped: no client request, however bad, stops it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import trio

from harness.core.records import HttpExchange, Note
from harness.recorder.proxy import ProxyRecorder
from harness.server import ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import API_TOKEN, read_records
from .proxy_helpers import raw_exchange, running_proxy, send_and_reset, status_and_body

BAD_REQUESTS = {
    "garbage-request-line": b"GARBAGE\r\n\r\n",
    "header-without-colon": b"GET /v1/ws/new/?t=x HTTP/1.1\r\nHost: p\r\nNoColonHere\r\n\r\n",
    "bad-chunk-header": (
        b"POST /v1/ws/new/?t=x HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"
    ),
    "bad-content-length": b"GET /v1/ws/new/?t=x HTTP/1.1\r\nHost: p\r\nContent-Length: x\r\n\r\n",
}


async def assert_still_serving(proxy: ProxyRecorder) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{proxy.base_url}/v1/ws/new/", params={"t": "fake"})
    assert answer.status_code == 200
    assert answer.json()["result"][0]["token"].startswith("local-")


def notes(path: Path, kind: str) -> list[Note]:
    return [r for r in read_records(path) if isinstance(r, Note) and r.kind == kind]


@pytest.mark.parametrize("request_bytes", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_a_bad_request_gets_a_400_envelope_and_the_proxy_goes_on(
    tmp_path: Path, request_bytes: bytes
) -> None:
    path = tmp_path / "bad.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_proxy(path, server.base_url) as proxy,
        ):
            status, body = status_and_body(await raw_exchange(proxy, request_bytes))
            assert status == 400
            document = json.loads(body)
            assert document["status"] == 400
            assert [e["code"] for e in document["errors"]] == [7]
            assert (document["result"], document["pagination"]) == ([], [])
            await assert_still_serving(proxy)
    assert len(notes(path, "bad-request")) == 1


async def test_a_client_that_resets_before_the_answer_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "reset.msgpack"
    request = b"GET /v1/ws/new/?t=fake HTTP/1.1\r\nHost: p\r\n\r\n"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_proxy(path, server.base_url) as proxy,
        ):
            for _ in range(3):
                await send_and_reset(proxy, request)
            await wait_until(lambda: proxy.stats.records >= 5)  # listening + 3 x gone + ...
            await assert_still_serving(proxy)
    gone = notes(path, "client-gone")
    assert len(gone) == 3
    assert API_TOKEN not in repr([n.fields() for n in gone])
    assert any(isinstance(r, HttpExchange) for r in read_records(path))
