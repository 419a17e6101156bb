"""Downstream consumers on each client stack pass with the plugin and no conftest."""

from __future__ import annotations

import pytest

TOKEN_URL = 'f"{api_base}/v1/ws/new/?t={api_token}"'
SUBSCRIBE = '{"action":"subscribe","channel":"MAIN","scope":"all"}'

SYNC_CLIENT = f"""
import json, urllib.request
import websocket

def token(api_base, api_token):
    with urllib.request.urlopen({TOKEN_URL}, timeout=10) as answer:
        return json.loads(answer.read())["result"][0]

def test_websocket_client(soccer_server):
    ws = websocket.create_connection(
        token(soccer_server.api_base, soccer_server.api_token)["server"], timeout=10
    )
    try:
        ws.send('{SUBSCRIBE}')
        assert json.loads(ws.recv())["type"] == "subscribed"
        assert [json.loads(ws.recv())["channel"] for _ in range(3)] == ["MAIN"] * 3
        assert soccer_server.push({{"type": "note", "channel": "MAIN", "data": 1}}) == 1
        soccer_server.stop_answering_pings()
        ws.send('{{"action":"ping"}}')
        assert soccer_server.close_connections(code=1001, reason="bye") == 1
    finally:
        ws.close()
    kinds = {{entry.kind for entry in soccer_server.journal}}
    assert {{"http", "ws_open", "ws_in", "ws_close"}} <= kinds
    assert soccer_server.stats.frames_sent >= 3
"""

ASYNCIO_WEBSOCKETS = f"""
import asyncio, json
import httpx
from websockets.asyncio.client import connect

async def consume(api_base, api_token):
    async with httpx.AsyncClient() as http:
        answer = await http.get({TOKEN_URL})
    server = answer.json()["result"][0]["server"]
    async with connect(server, compression=None) as ws:
        await ws.send('{SUBSCRIBE}')
        assert json.loads(await ws.recv())["type"] == "subscribed"
        return [json.loads(await ws.recv()) for _ in range(3)]

def test_websockets(soccer_server):
    frames = asyncio.run(consume(soccer_server.api_base, soccer_server.api_token))
    assert [f["channel"] for f in frames] == ["MAIN"] * 3
"""

AIOHTTP = f"""
import asyncio, json
import aiohttp

async def consume(api_base, api_token):
    async with aiohttp.ClientSession() as http:
        async with http.get({TOKEN_URL}) as answer:
            server = (await answer.json())["result"][0]["server"]
        async with http.ws_connect(server) as ws:
            await ws.send_str('{SUBSCRIBE}')
            assert json.loads(await ws.receive_str())["type"] == "subscribed"
            return [json.loads(await ws.receive_str()) for _ in range(3)]

def test_aiohttp(soccer_server):
    frames = asyncio.run(consume(soccer_server.api_base, soccer_server.api_token))
    assert [f["channel"] for f in frames] == ["MAIN"] * 3
"""

TRIO_WEBSOCKET = f"""
import json
import httpx, pytest, trio
from trio_websocket import open_websocket_url

async def consume(api_base, api_token, count):
    async with httpx.AsyncClient() as http:
        answer = await http.get({TOKEN_URL})
    server = answer.json()["result"][0]["server"]
    async with open_websocket_url(server) as ws:
        await ws.send_message('{SUBSCRIBE}')
        assert json.loads(await ws.get_message())["type"] == "subscribed"
        return [json.loads(await ws.get_message()) for _ in range(count)]

@pytest.mark.trio
async def test_trio_websocket(trio_soccer_server):
    frames = await consume(trio_soccer_server.base_url, "any", 3)
    assert [f["channel"] for f in frames] == ["MAIN"] * 3

@pytest.mark.soccer_recording(speed=1, ttl="10h")
@pytest.mark.trio
async def test_mock_clock_drives_replay(trio_soccer_server, autojump_clock):
    # Given real-time replay of a two-hour recording, When five MAIN frames are read,
    # Then virtual time passed, not real time
    frames = await consume(trio_soccer_server.base_url, "any", 5)
    assert len(frames) == 5
    assert trio.current_time() > 60
"""


def test_every_client_stack_passes(downstream: pytest.Pytester) -> None:
    # Given four downstream test modules, one per client stack, and no conftest
    downstream.makepyfile(
        test_sync=SYNC_CLIENT,
        test_websockets=ASYNCIO_WEBSOCKETS,
        test_aiohttp=AIOHTTP,
        test_trio=TRIO_WEBSOCKET,
    )
    # When pytest runs them
    result = downstream.runpytest_subprocess("-W", "error::pytest.PytestUnraisableExceptionWarning")
    # Then every one passes
    result.assert_outcomes(passed=5)


def test_xdist_and_exitfirst(downstream: pytest.Pytester) -> None:
    # Given the same modules, When run on two xdist workers with -x, Then all pass
    downstream.makepyfile(test_sync=SYNC_CLIENT, test_websockets=ASYNCIO_WEBSOCKETS)
    result = downstream.runpytest_subprocess("-n", "2", "-x", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
