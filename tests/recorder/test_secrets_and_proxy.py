"""No secret reaches the file (direct, RapidAPI and proxy modes); the proxy relays faithfully."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Subscribe, Topic, encode_command
from harness.core.records import HttpExchange, Initiator, WsClose, WsMessage
from harness.server import ServerConfig, open_mock_server
from tests.waiting import wait_until

from .conftest import API_TOKEN, fast_options, goal, read_records, running_recorder, server_frames
from .proxy_helpers import running_proxy

SUBSCRIBE_MAIN = encode_command(Subscribe(Topic.parse("MAIN:all")))


def assert_no_secret(path: Path, secrets: list[str]) -> None:
    data = path.read_bytes()
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}:
            assert form.encode() not in data, f"{form!r} leaked into {path.name}"


@pytest.mark.parametrize("rapidapi", [False, True], ids=["direct", "rapidapi"])
async def test_no_secret_in_a_live_recording(tmp_path: Path, rapidapi: bool) -> None:
    path = tmp_path / "live.msgpack"
    with trio.fail_after(20):
        async with open_mock_server(
            None, ServerConfig(api_token=API_TOKEN, profile=DEFAULT_PROFILE.with_limits(ttl_s=2.0))
        ) as server:
            options = fast_options(server.base_url, rapidapi=rapidapi)
            async with running_recorder(path, options) as recorder:
                await wait_until(lambda: server.stats.subscriptions >= 1)
                server.push(goal("m", 1))
                await wait_until(lambda: recorder.stats.renewals >= 1)  # renew answers too
                secrets = list(recorder.tee.redactor.placeholders)
    assert API_TOKEN in secrets
    assert len(secrets) >= 2
    assert_no_secret(path, secrets)
    exchange = next(r for r in read_records(path) if isinstance(r, HttpExchange))
    if rapidapi:
        assert ("x-rapidapi-key", "<API_TOKEN>") in exchange.request_headers
        assert "t=" not in exchange.url
    else:
        assert "<API_TOKEN>" in exchange.url or "%3CAPI_TOKEN%3E" in exchange.url


async def test_proxy_relays_a_client_session_and_records_it_without_secrets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "proxy.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_proxy(path, server.base_url) as proxy,
        ):
            # The client uses the proxy as its API base with a made-up token.
            async with httpx.AsyncClient() as http:
                answer = await http.get(f"{proxy.base_url}/v1/ws/new/", params={"t": "fake"})
            assert answer.status_code == 200
            grant = answer.json()["result"][0]
            assert grant["token"].startswith("local-")
            assert grant["server"].startswith(proxy.base_url.replace("http", "ws"))
            async with open_websocket_url(grant["server"]) as ws:
                await ws.send_message(SUBSCRIBE_MAIN)
                assert json.loads(await ws.get_message())["type"] == "subscribed"
                server.push(goal("m", 9))
                assert await ws.get_message() == goal("m", 9).decode()
                await ws.send_message('{"action":"ping"}')
                assert json.loads(await ws.get_message())["type"] == "pong"
                await ws.aclose(1000, "client done")
            secrets = list(proxy.tee.redactor.placeholders)
    assert_no_secret(path, [*secrets, API_TOKEN])
    records = read_records(path)
    assert goal("m", 9) in [m.payload for m in server_frames(records)]
    sent = [r.payload for r in records if isinstance(r, WsMessage)]
    assert SUBSCRIBE_MAIN.encode() in sent
    close = next(r for r in records if isinstance(r, WsClose))
    assert (close.code, close.reason, close.initiator) == (1000, "client done", Initiator.CLIENT)


async def test_proxy_passes_server_close_codes_and_refusals_to_the_client(tmp_path: Path) -> None:
    path = tmp_path / "proxy-close.msgpack"
    with trio.fail_after(20):
        async with (
            open_mock_server(None, ServerConfig(api_token=API_TOKEN)) as server,
            running_proxy(path, server.base_url) as proxy,
        ):
            async with httpx.AsyncClient() as http:
                new = await http.get(f"{proxy.base_url}/v1/ws/new/", params={"t": "fake"})
                grant = new.json()["result"][0]
                unknown = await http.get(f"{proxy.base_url}/v1/nope", params={"t": "fake"})
            assert unknown.status_code == 404  # the service's own answer, passed through
            async with open_websocket_url(grant["server"]) as ws:
                await ws.send_message(SUBSCRIBE_MAIN)
                await ws.get_message()
                await server.close_connections(code=4000, reason="maintenance")
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                assert closed.value.reason is not None
                assert (closed.value.reason.code, closed.value.reason.reason) == (
                    4000,
                    "maintenance",
                )
    close = next(r for r in read_records(path) if isinstance(r, WsClose))
    assert (close.code, close.initiator) == (4000, Initiator.SERVER)
