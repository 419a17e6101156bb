"""The HTTP control API (``/_harness/``) over real loopback HTTP: each endpoint does what it says
on a real WebSocket client; off by default, where the prefix is an unknown path (404)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection

from harness.core.schedule import ReplayOptions
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.mock_helpers import (
    API_TOKEN,
    ask,
    connect,
    main_event,
    make_feed,
    new_token,
    receive_json,
    sub,
)
from tests.waiting import wait_until as poll

FRAMES = 100
FEED = make_feed([(float(i), main_event(i)) for i in range(FRAMES)], duration_s=FRAMES)
ENVELOPE_KEYS = {"status", "errors", "pagination", "result"}


@asynccontextmanager
async def controlled(
    speed: float | None = 1.0, **options: Any
) -> AsyncIterator[tuple[MockServer, httpx.AsyncClient]]:
    config = ServerConfig(replay=ReplayOptions(speed=speed), control=True, **options)
    async with (
        open_mock_server(FEED, config) as server,
        httpx.AsyncClient(base_url=server.base_url) as client,
    ):
        yield server, client


async def ok(client: httpx.AsyncClient, name: str, body: Any = None) -> dict[str, Any]:
    """POST a control call that must succeed; its JSON answer."""
    response = await client.post(f"/_harness/{name}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["ok"] is True
    return answer


async def number(ws: WebSocketConnection) -> int:
    value: int = (await receive_json(ws))["data"]["n"]
    return value


async def drain(ws: WebSocketConnection) -> None:
    for _ in range(FRAMES + 10):
        await ws.get_message()


async def closed_with(ws: WebSocketConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await drain(ws)
    reason = closed.value.reason
    assert reason is not None
    return reason.code, reason.reason or ""


async def test_the_prefix_is_an_unknown_path_when_control_is_off() -> None:
    with trio.fail_after(10):
        async with (
            open_mock_server(FEED) as server,
            httpx.AsyncClient(base_url=server.base_url) as client,
        ):
            assert server.control_url is None
            for method in ("GET", "POST"):
                response = await client.request(method, "/_harness/pause")
                assert response.status_code == 404
                assert response.json()["errors"] == [{"code": 6, "message": "Not Found"}]
            assert not server.stats.paused


async def test_push_sends_the_frame_to_the_clients(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (server, client):
            first, second = await new_token(server), await new_token(server, "other-key")
            async with connect(first["server"]) as a, connect(second["server"]) as b:
                # A frame as the body goes to every connection, byte for byte
                raw = b'{"type": "notice",  "text": "hello"}'
                answer = await client.post("/_harness/push", content=raw)
                assert answer.json() == {"ok": True, "connections": 2}
                assert await a.get_message() == raw.decode()
                assert await b.get_message() == raw.decode()
                # {"frame": raw text, "token": ...} goes to that token's connections only
                body = {"frame": "not json at all", "token": second["token"]}
                assert (await ok(client, "push", body))["connections"] == 1
                assert await b.get_message() == "not json at all"
                assert (await ask(a, '{"action":"ping"}'))["type"] == "pong"


async def test_expire_token_closes_its_connections(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (server, client):
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, '{"action":"ping"}')
                assert (await ok(client, "expire-token", {"token": token["token"]})) == {
                    "ok": True,
                    "expired": 1,
                }
                assert (await receive_json(ws))["code"] == "TOKEN_EXPIRED"
                assert await closed_with(ws) == (4001, "token expired")


async def test_api_token_state_refuses_the_token(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (_, client):
            await ok(client, "api-token-state", {"api_token": API_TOKEN, "state": "suspended"})
            refused = await client.get("/v1/ws/new", params={"t": API_TOKEN})
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["code"] == 3
            await ok(client, "api-token-state", {"api_token": API_TOKEN, "state": "active"})
            assert (await client.get("/v1/ws/new", params={"t": API_TOKEN})).status_code == 200


async def test_pings_stop_being_answered(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (server, client):
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ok(client, "pings", {"answer": False})
                await ws.send_message('{"action":"ping"}')
                with trio.move_on_after(30) as silent:
                    await ws.get_message()
                assert silent.cancelled_caught
                await ok(client, "pings", {"answer": True})
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"


@pytest.mark.parametrize("abrupt", [False, True], ids=["clean", "abrupt"])
async def test_close_connections(abrupt: bool, autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (server, client):
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                body = {"code": 4000, "reason": "bye", "abrupt": abrupt}
                assert (await ok(client, "close-connections", body))["closed"] == 1
                code, reason = await closed_with(ws)
                assert (code, reason) == ((1006, "") if abrupt else (4000, "bye"))
            assert server.stats.connections == 0


async def test_the_player_over_http(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(600):
        async with controlled() as (server, client):
            assert (await ok(client, "pause")) == {
                "ok": True,
                "paused": True,
                "speed": 1.0,
                "position_s": 0.0,
            }
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                await server.journal.wait_for_subscription("MAIN:all", timeout=5)
                # play-next while paused sends the next frames
                assert (await ok(client, "play-next", {"n": 2}))["sent"] == 2
                assert [await number(ws), await number(ws)] == [0, 1]
                assert (await ok(client, "play-next"))["sent"] == 1
                assert await number(ws) == 2
                # seek takes a duration: the next frame stepped is the one at 1 minute
                assert (await ok(client, "seek", {"t": "1m"}))["paused"] is True
                await ok(client, "play-next")
                assert await number(ws) == 60
                # speed then resume: the rest comes at max
                assert (await ok(client, "speed", {"speed": "max"}))["speed"] is None
                assert (await ok(client, "resume"))["paused"] is False
                assert [await number(ws) for _ in range(FRAMES - 61)] == list(range(61, FRAMES))
                assert (await ok(client, "speed", {"speed": 10}))["speed"] == 10
                await ok(client, "seek", {"t": 90})
                assert await number(ws) == 90


async def test_play_next_while_playing_is_refused(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (_, client):
            response = await client.post("/_harness/play-next", json={"n": 1})
            assert response.status_code == 409
            body = response.json()
            assert set(body) == ENVELOPE_KEYS
            assert "paused" in body["errors"][0]["message"]
            response = await client.post("/_harness/seek", json={"t": "9h"})
            assert response.status_code == 409
            assert "past the end" in response.json()["errors"][0]["message"]


async def test_journal_and_stats(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (server, client):
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                await number(ws)
                journal = (await client.get("/_harness/journal")).json()
                assert journal["ok"] is True
                kinds = [entry["kind"] for entry in journal["entries"]]
                assert "ws_open" in kinds
                assert [e["seq"] for e in journal["entries"]] == list(range(len(kinds)))
                replies = [
                    json.loads(e["summary"]) for e in journal["entries"] if e["kind"] == "ws_out"
                ]
                assert replies[0]["type"] == "subscribed"
                later = await client.get("/_harness/journal", params={"since": journal["next"]})
                assert later.json()["entries"] == []
                stats = (await client.get("/_harness/stats")).json()
                assert stats["ok"] is True
                assert stats["connections"] == 1
                assert stats["subscriptions"] == 1
                assert stats["paused"] is False
                assert stats["frames_sent"] >= 1


async def test_reset_over_http(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with controlled() as (server, client):
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await number(ws) == 0
                await ok(client, "pause")
                assert (await ok(client, "reset")) == {"ok": True}
                assert await closed_with(ws) == (1001, "server reset")
            stats = (await client.get("/_harness/stats")).json()
            assert (stats["connections"], stats["frames_sent"], stats["paused"]) == (0, 0, False)
            assert (await client.get("/_harness/journal")).json()["entries"] == []
            fresh = await new_token(server)
            assert fresh["token"] != token["token"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/_harness/nope", None, 404, "no control endpoint /_harness/nope"),
        ("GET", "/_harness/pause", None, 405, "use POST"),
        ("POST", "/_harness/stats", None, 405, "use GET"),
        ("POST", "/_harness/seek", b"{", 400, "body is not JSON"),
        ("POST", "/_harness/seek", b'{"t": "soon"}', 400, "invalid duration 'soon'"),
        ("POST", "/_harness/speed", b'{"speed": -2}', 400, "invalid speed"),
        ("POST", "/_harness/pings", b'{"answer": 0}', 400, "'answer' must be true or false"),
    ],
)
async def test_bad_requests_get_the_rest_envelope(
    method: str, path: str, body: bytes | None, status: int, words: str
) -> None:
    with trio.fail_after(10):
        async with controlled() as (server, client):
            response = await client.request(method, path, content=body)
            assert response.status_code == status
            answer = response.json()
            assert set(answer) == ENVELOPE_KEYS
            assert answer["status"] == status
            assert words in answer["errors"][0]["message"]
            await poll(lambda: server.stats.http_requests == 0)


async def test_a_huge_body_is_refused() -> None:
    with trio.fail_after(10):
        async with controlled() as (_, client):
            response = await client.post("/_harness/push", content=b"x" * (2 * 1024 * 1024))
            assert response.status_code == 413
            assert response.json()["errors"][0]["message"] == "request body too large"


async def test_play_over_http_serves_the_posted_frames() -> None:
    frames = [json.loads(main_event(500 + i)) for i in range(3)]
    async with controlled(speed=None) as (server, client):
        answer = await ok(client, "play", {"frames": frames, "close_when_delivered": True})
        assert answer["frames"] == 3
        token = await new_token(server)
        async with connect(token["server"]) as ws:
            await ask(ws, sub())
            got = [await number(ws) for _ in range(3)]
            with pytest.raises(ConnectionClosed):
                await ws.get_message()
    assert got == [500, 501, 502]
