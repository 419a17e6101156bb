"""Stopping either side of ``record --proxy`` gives its clients a 1001 close, never a 1006."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url

from harness.core.protocol import Subscribe, Topic, encode_command
from harness.core.records import Initiator, WsClose
from harness.recorder.proxy import ProxyRecorder
from harness.server import ServerConfig, open_mock_server

from .conftest import API_TOKEN, read_records
from .proxy_helpers import running_proxy

SUBSCRIBE_MAIN = encode_command(Subscribe(Topic.parse("MAIN:all")))


async def _subscribed_client(proxy: ProxyRecorder, nursery: trio.Nursery) -> WebSocketConnection:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{proxy.base_url}/v1/ws/new/", params={"t": "fake"})
    ws = await connect_websocket_url(nursery, answer.json()["result"][0]["server"])
    await ws.send_message(SUBSCRIBE_MAIN)
    assert json.loads(await ws.get_message())["type"] == "subscribed"
    return ws


async def _close_of(ws: WebSocketConnection) -> tuple[int, str | None]:
    with pytest.raises(ConnectionClosed) as closed:
        await ws.get_message()
    reason = closed.value.reason
    assert reason is not None
    return reason.code, reason.reason


async def test_stopping_the_proxy_closes_its_clients_with_1001(tmp_path: Path) -> None:
    path = tmp_path / "proxy.msgpack"
    with trio.fail_after(20):
        async with trio.open_nursery() as clients:
            async with (
                open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
                running_proxy(path, server.base_url) as proxy,
            ):
                ws = await _subscribed_client(proxy, clients)
            # the proxy block ended: request_stop, as Ctrl-C does in `harness record`
            assert await _close_of(ws) == (1001, "recording proxy stopping")
    close = next(r for r in read_records(path) if isinstance(r, WsClose))
    assert (close.code, close.reason, close.initiator) == (
        1000,
        "recording finished",
        Initiator.CLIENT,
    )


async def test_a_stopping_upstream_reaches_the_proxy_client_as_its_1001(tmp_path: Path) -> None:
    path = tmp_path / "proxy.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            trio.open_nursery() as clients,
            running_proxy(path, server.base_url) as proxy,
        ):
            ws = await _subscribed_client(proxy, clients)
            report = await server.shut_down()
            assert await _close_of(ws) == (1001, "server shutting down")
    assert (report.closed, report.cut) == (1, 0)
    close = next(r for r in read_records(path) if isinstance(r, WsClose))
    assert (close.code, close.reason, close.initiator) == (
        1001,
        "server shutting down",
        Initiator.SERVER,
    )
