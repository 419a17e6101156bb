"""End-to-end against a running mock with trio-websocket + httpx: the documented flow, every
in-socket error code, plan limits, handshake refusals and token expiry on the real clock."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected

from harness.core.profile import DEFAULT_PROFILE
from harness.core.protocol import Plan
from harness.server import ServerConfig, open_mock_server
from tests.io.mock_helpers import (
    API_TOKEN,
    ask,
    connect,
    main_event,
    make_feed,
    new_token,
    receive_json,
    rest_get,
    sub,
    unsub,
)


async def test_documented_flow() -> None:
    # Given a feed of three MAIN events 10 ms apart (speed 1)
    feed = make_feed([(0.0, main_event(1)), (0.01, main_event(2)), (0.02, main_event(3))])
    with trio.fail_after(10):
        async with open_mock_server(feed) as server:
            # When a client follows the documented flow
            token = await new_token(server)
            assert token["server"] == f"{server.ws_url}?token={token['token']}"
            async with connect(token["server"]) as ws:
                subscribed = await ask(ws, sub())
                assert subscribed == {
                    "type": "subscribed",
                    "channel": "MAIN",
                    "scope": "all",
                    "id": None,
                    "topicKey": "MAIN:all",
                    "message": "Successfully subscribed",
                }
                events = [await ws.get_message() for _ in range(3)]
                assert [_as_bytes(e) for e in events] == [main_event(n) for n in (1, 2, 3)]
                before_ms = int(time.time() * 1000)
                pong = await ask(ws, json.dumps({"action": "ping"}))
                assert pong["type"] == "pong"
                assert abs(pong["ts"] - before_ms) < 5000
                renewed = (await rest_get(server, "/v1/ws/renew/")).json()["result"][0]
                assert renewed["token"] == token["token"]
                assert renewed["is_new"] is False
                assert (await ask(ws, json.dumps({"action": "ping"})))["type"] == "pong"
    # Then the journal holds the HTTP calls, the commands and the replies
    kinds = [entry.kind for entry in server.journal]
    assert kinds.count("http") == 2
    assert "ws_open" in kinds
    assert "ws_close" in kinds
    assert server.stats.frames_sent == 3
    assert server.stats.internal_errors == 0


ERROR_CASES = [
    (sub("STATS"), "CHANNEL_NOT_ALLOWED", "Channel STATS is not available for your plan"),
    (sub("NOPE"), "INVALID_CHANNEL", None),
    (sub("MAIN", "match"), "INVALID_SCOPE", None),
    (sub("MAIN", "weekly"), "INVALID_SCOPE", None),
    ("not json", "INVALID_COMMAND", None),
    ("[1, 2]", "INVALID_COMMAND", None),
    ('{"action": "dance"}', "INVALID_COMMAND", None),
    ('{"channel": "MAIN"}', "INVALID_COMMAND", None),
    (unsub("MAIN", "match", "42"), "NOT_SUBSCRIBED", None),
]


async def test_every_error_code_and_the_connection_survives() -> None:
    config = ServerConfig(profile=DEFAULT_PROFILE.with_limits(plan=Plan.PRO))
    with trio.fail_after(10):
        async with open_mock_server(None, config) as server:
            token = await new_token(server)
            assert token["allowed_channels"] == ["MAIN"]
            async with connect(token["server"]) as ws:
                for command, code, message in ERROR_CASES:
                    reply = await ask(ws, command)
                    assert (reply["type"], reply["code"]) == ("error", code), command
                    assert set(reply) == {"type", "code", "message"}
                    if message is not None:
                        assert reply["message"] == message
                await ws.send_message(b'{"action":"ping"}')  # binary frame
                assert (await receive_json(ws))["code"] == "INVALID_COMMAND"
                assert (await ask(ws, json.dumps({"action": "ping"})))["type"] == "pong"


async def test_subscription_limit_duplicates_and_unsubscribe() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                assert (await ask(ws, sub("MAIN")))["type"] == "subscribed"
                assert (await ask(ws, sub("MAIN")))["type"] == "subscribed"  # no extra slot
                assert (await ask(ws, sub("STATS", "match:7")))["id"] == "7"  # form (B)
                limit = await ask(ws, sub("ODDS"))
                assert limit["code"] == "SUBSCRIPTION_LIMIT"
                gone = await ask(ws, unsub("STATS", "match", "7"))
                assert gone["type"] == "unsubscribed"
                assert gone["message"] == "Successfully unsubscribed"
                assert (await ask(ws, sub("ODDS")))["type"] == "subscribed"
                assert server.stats.subscriptions == 2


async def test_handshake_refusals() -> None:
    with trio.fail_after(10):
        async with open_mock_server(
            None, ServerConfig(profile=DEFAULT_PROFILE.with_limits(max_connections=1))
        ) as server:
            token = await new_token(server)
            for url in (server.ws_url, f"{server.ws_url}?token=unknown"):
                with pytest.raises(ConnectionRejected) as refused:
                    async with connect(url):
                        pass
                assert refused.value.status_code == 401
                body = json.loads(refused.value.body or b"")
                assert body["errors"] == [{"code": 2, "message": "Token is invalid"}]
            async with connect(token["server"]):
                with pytest.raises(ConnectionRejected) as refused:
                    async with connect(token["server"]):
                        pass
                assert refused.value.status_code == 429
                body = json.loads(refused.value.body or b"")
                assert body["errors"] == [{"code": 7, "message": "Too many requests"}]
            server.expire_token(token["token"])
            with pytest.raises(ConnectionRejected) as refused:
                async with connect(token["server"]):
                    pass
            assert refused.value.status_code == 401


async def expect_expiry_close(ws: object) -> None:
    from trio_websocket import WebSocketConnection

    assert isinstance(ws, WebSocketConnection)
    expired = await receive_json(ws)
    assert expired == {
        "type": "error",
        "code": "TOKEN_EXPIRED",
        "message": "WebSocket token expired",
    }
    with pytest.raises(ConnectionClosed) as closed:
        await ws.get_message()
    reason = closed.value.reason
    assert reason is not None
    assert (reason.code, reason.reason) == (4001, "token expired")


@pytest.mark.slow
async def test_expiry_without_renewal_real_clock() -> None:
    with trio.fail_after(10):
        async with open_mock_server(
            None, ServerConfig(profile=DEFAULT_PROFILE.with_limits(ttl_s=1.0))
        ) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                assert (await ask(ws, sub()))["type"] == "subscribed"
                await expect_expiry_close(ws)
            assert time.time() >= _epoch(token["expires_at"])
            assert (await new_token(server))["is_new"] is True


@pytest.mark.slow
async def test_renewal_keeps_the_connection_past_the_first_expiry() -> None:
    with trio.fail_after(15):
        async with open_mock_server(
            None, ServerConfig(profile=DEFAULT_PROFILE.with_limits(ttl_s=1.0))
        ) as server:
            token = await new_token(server)
            first_expiry = _epoch(token["expires_at"])
            async with connect(token["server"]) as ws:
                last = token
                while time.time() < first_expiry + 1.1:
                    await trio.sleep(0.25)
                    last = (await rest_get(server, "/v1/ws/renew")).json()["result"][0]
                    assert last["token"] == token["token"]
                    assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"
                assert _epoch(last["expires_at"]) > first_expiry
                await expect_expiry_close(ws)  # no more renewals: it expires
            assert time.time() >= _epoch(last["expires_at"])


async def test_expire_token_control_closes_open_connections() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, '{"action":"ping"}')
                assert server.expire_token() == 1
                await expect_expiry_close(ws)


async def test_api_token_restriction_and_states_over_http() -> None:
    with trio.fail_after(10):
        async with (
            open_mock_server(None, ServerConfig(api_token="secret")) as server,
            httpx.AsyncClient(base_url=server.base_url) as client,
        ):
            refused = await client.get("/v1/ws/new", params={"t": API_TOKEN})
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["code"] == 2
            server.revoke_api_token("secret", "ip_invalid")
            refused = await client.get("/v1/ws/new", params={"t": "secret"})
            assert refused.json()["errors"] == [{"code": 5, "message": "Token IP is invalid"}]
            server.set_api_token_state("secret", "active")
            ok = await client.get("/v1/ws/new", params={"t": "secret"})
            assert ok.status_code == 200


async def test_quota_over_http() -> None:
    with trio.fail_after(10):
        async with open_mock_server(
            None, ServerConfig(profile=DEFAULT_PROFILE.with_limits(hourly_quota=1))
        ) as server:
            assert (await rest_get(server, "/v1/token/status")).status_code == 200
            refused = await rest_get(server, "/v1/ws/new")
            assert refused.status_code == 429
            assert refused.json()["errors"] == [{"code": 7, "message": "Too many requests"}]
            assert refused.headers["X-Rate-Limit-Remaining"] == "0"


def _epoch(expires_at: str) -> float:
    import calendar

    return float(calendar.timegm(time.strptime(expires_at, "%Y-%m-%d %H:%M:%S")))


def _as_bytes(message: str | bytes) -> bytes:
    return message.encode() if isinstance(message, str) else message
