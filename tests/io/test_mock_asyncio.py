"""The second, independent client stack: asyncio ``websockets`` + ``urllib`` in a worker thread
against the trio mock (documented flow, RapidAPI, refusals, routing, TLS)."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import trio
import websockets
from websockets.asyncio.client import connect as ws_connect

from harness.core.profile import DEFAULT_PROFILE
from harness.core.schedule import ReplayOptions
from harness.server import ServerConfig, open_mock_server
from tests.io.mock_helpers import API_TOKEN, echo_event, main_event, make_feed, sub


def http_get(
    url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str], Any]:
    """A plain blocking HTTP GET: status, headers, parsed JSON body (errors included)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


async def in_thread(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return await trio.to_thread.run_sync(lambda: asyncio.run(make()))


async def test_documented_flow_with_asyncio_stack() -> None:
    feed = make_feed([(0.0, main_event(1)), (0.01, main_event(2))])
    with trio.fail_after(20):
        async with open_mock_server(feed) as server:
            base = server.base_url

            async def client() -> list[dict[str, Any]]:
                status, _, body = http_get(f"{base}/v1/ws/new/?t={API_TOKEN}")
                assert status == 200
                token = body["result"][0]
                got: list[dict[str, Any]] = []
                async with ws_connect(token["server"], compression=None) as ws:
                    await ws.send(sub())
                    got.append(json.loads(await ws.recv()))
                    got += [json.loads(await ws.recv()) for _ in range(2)]
                    await ws.send('{"action":"ping"}')
                    got.append(json.loads(await ws.recv()))
                    status, _, renewed = http_get(f"{base}/v1/ws/renew?t={API_TOKEN}")
                    assert status == 200
                    assert renewed["result"][0]["token"] == token["token"]
                    await ws.send('{"action":"unsubscribe","channel":"MAIN","scope":"all"}')
                    got.append(json.loads(await ws.recv()))
                return got

            replies = await in_thread(client)
    assert [r["type"] for r in replies] == ["subscribed", "goal", "goal", "pong", "unsubscribed"]
    assert [r["data"]["n"] for r in replies[1:3]] == [1, 2]


async def test_rapidapi_and_refusals_with_asyncio_stack() -> None:
    with trio.fail_after(20):
        async with open_mock_server(
            None, ServerConfig(profile=DEFAULT_PROFILE.with_limits(max_connections=1))
        ) as server:
            base, ws_url = server.base_url, server.ws_url

            async def client() -> None:
                rapid = {
                    "X-RapidAPI-Key": API_TOKEN,
                    "X-RapidAPI-Host": "soccerfootballinfo.rapidapi.com",
                }
                status, headers, body = http_get(f"{base}/ws/new", rapid)
                assert status == 200
                assert headers["x-ratelimit-requests-remaining"] == "3599"
                status, _, body = http_get(f"{base}/v1/token/status/", rapid)
                assert (status, body["errors"][0]["code"]) == (401, 4)
                status, _, body = http_get(f"{base}/v1/ws/new")
                assert (status, body["errors"][0]["message"]) == (400, "Missing t param")
                status, _, body = http_get(f"{base}/v1/nothing?t=x")
                assert (status, body["errors"][0]["code"]) == (404, 6)
                token = http_get(f"{base}/v1/ws/new?t={API_TOKEN}")[2]["result"][0]
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with ws_connect(f"{ws_url}?token=bogus"):
                        pass
                assert refused.value.response.status_code == 401
                assert json.loads(refused.value.response.body or b"")["errors"][0]["code"] == 2
                async with ws_connect(token["server"]) as ws:
                    assert ws.response is not None
                    assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
                    with pytest.raises(websockets.InvalidStatus) as refused:
                        async with ws_connect(token["server"]):
                            pass
                    assert refused.value.response.status_code == 429

            await in_thread(client)


async def test_stats_routing_with_asyncio_stack() -> None:
    feed = make_feed([(0.0, echo_event(1, "match", "m1")), (0.001, echo_event(2, "league", "l1"))])
    config = ServerConfig(replay=ReplayOptions(speed=None))
    with trio.fail_after(20):
        async with open_mock_server(feed, config) as server:
            base = server.base_url

            async def client() -> list[int]:
                token = http_get(f"{base}/v1/ws/new?t={API_TOKEN}")[2]["result"][0]
                async with ws_connect(token["server"]) as ws:
                    await ws.send(sub("STATS", "league", "l1"))
                    assert json.loads(await ws.recv())["type"] == "subscribed"
                    frame = json.loads(await ws.recv())
                    return [frame["data"]["n"]]

            assert await in_thread(client) == [2]


async def test_tls_serves_https_and_wss() -> None:
    feed = make_feed([(0.0, main_event(1))])
    config = ServerConfig(tls=True, replay=ReplayOptions(speed=None))
    with trio.fail_after(20):
        async with open_mock_server(feed, config) as server:
            assert server.base_url.startswith("https://")
            assert server.ca_path is not None
            assert server.tls is not None
            context = server.tls.client_context()
            base = server.base_url

            async def client() -> dict[str, Any]:
                token = http_get(f"{base}/v1/ws/new?t={API_TOKEN}", context=context)[2]
                url = token["result"][0]["server"]
                assert url.startswith("wss://")
                async with ws_connect(url, ssl=context) as ws:
                    await ws.send(sub())
                    await ws.recv()
                    frame: dict[str, Any] = json.loads(await ws.recv())
                    return frame

            assert (await in_thread(client))["data"]["n"] == 1
