"""One clock seam: under ``MockClock`` token expiry and renewal run on virtual time.

Everything is wired through in-memory streams (``handle_stream``), so every party runs in one
trio run and ``autojump_clock`` jumps only when all of them wait.
"""

from __future__ import annotations

import json
from typing import Any

import h11
import pytest
import trio
import trio.testing
from wsproto.events import CloseConnection, Message, TextMessage

from harness.core.envelopes import format_expires_at
from harness.core.profile import DEFAULT_PROFILE
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.memory_client import MemoryClient
from tests.io.mock_helpers import sub

START = 1_705_312_800.0  # 2024-01-15 10:00:00 UTC
TTL_S = 25 * 60.0


async def _rest_get(server: MockServer, nursery: trio.Nursery, target: str) -> dict[str, Any]:
    """One REST call over an in-memory stream; the JSON body."""
    to_server = trio.testing.MemoryReceiveStream()
    from_server = trio.testing.MemorySendStream()
    nursery.start_soon(server.handle_stream, trio.StapledStream(from_server, to_server))
    client = h11.Connection(h11.CLIENT)
    request = h11.Request(method="GET", target=target, headers=[("Host", "mock")])
    to_server.put_data(client.send(request) + (client.send(h11.EndOfMessage()) or b""))
    body = b""
    for _ in range(100):  # bounded: a small answer comes in a few reads
        client.receive_data(bytes(await from_server.get_data()))
        for event in iter(client.next_event, h11.NEED_DATA):
            if isinstance(event, h11.Data):
                body += event.data
            if isinstance(event, h11.EndOfMessage):
                result: dict[str, Any] = json.loads(body)["result"][0]
                return result
    raise AssertionError("no complete answer")


async def _messages_until_close(client: MemoryClient) -> tuple[list[str], CloseConnection]:
    texts: list[str] = []
    for _ in range(1000):  # bounded: a handful of replies, then the close
        for event in await client.next_events():
            if isinstance(event, TextMessage):
                texts.append(event.data)
            if isinstance(event, CloseConnection):
                return texts, event
    raise AssertionError("no close")


async def test_a_default_token_expires_after_25_virtual_minutes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery, open_mock_server(wall_time=START) as server:
        began = trio.current_time()
        client = await MemoryClient.open(server, nursery)
        client.put(client.ws.send(Message(sub())))
        texts, close = await _messages_until_close(client)
        assert trio.current_time() - began == pytest.approx(TTL_S, abs=0.5)
        assert json.loads(texts[0])["type"] == "subscribed"
        assert json.loads(texts[-1])["code"] == "TOKEN_EXPIRED"
        assert close.code == 4001


async def test_the_token_answer_and_the_expiry_agree_in_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = ServerConfig(profile=DEFAULT_PROFILE.with_limits(ttl_s=60.0))
    async with (
        trio.open_nursery() as nursery,
        open_mock_server(None, config, wall_time=START) as server,
    ):
        token = await _rest_get(server, nursery, "/v1/ws/new/?t=demo")
        assert token["expires_at"] == format_expires_at(START + 60)
        await trio.sleep(50)
        renewed = await _rest_get(server, nursery, "/v1/ws/renew/?t=demo")
        assert renewed["token"] == token["token"]
        assert renewed["expires_at"] == format_expires_at(START + 50 + 60)
