"""Bad input and bad clients: malformed frames, floods, clients that vanish mid-frame, slow
readers; 50 clients of which some misbehave.  One client's trouble never reaches another."""

from __future__ import annotations

import dataclasses
import json
import os
import struct

import pytest
import trio
from trio_websocket import ConnectionClosed
from wsproto.events import TextMessage

from harness.core.profile import DEFAULT_PROFILE
from harness.core.schedule import ReplayOptions
from harness.server import ServerConfig, open_mock_server
from tests.io.mock_helpers import ask, connect, main_event, make_feed, new_token, sub
from tests.io.raw_client import RawClient
from tests.waiting import wait_until


def masked_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", (0x80 if fin else 0) | opcode, 0x80 | len(payload)) + mask + masked


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (struct.pack("!BB", 0x81, 2) + b"hi", 1002),  # client frames must be masked
        (masked_frame(0x3, b"x"), 1002),  # reserved opcode
        (masked_frame(0x1, b"\xff\xfe"), 1007),  # invalid UTF-8 in a text frame
    ],
)
async def test_malformed_frame_closes_only_that_connection(frame: bytes, code: int) -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            async with connect(token["server"]) as good:
                bad = await RawClient.open(server, token["token"])
                await bad.stream.send_all(frame)
                assert await bad.read_until_closed() == code
                assert (await ask(good, '{"action":"ping"}'))["type"] == "pong"
            await wait_until(lambda: server.stats.connections == 0)
            assert server.stats.internal_errors == 0


async def test_client_vanishing_mid_frame() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            for partial in (b"\x81", masked_frame(0x1, b'{"action":"ping"}')[:9]):
                raw = await RawClient.open(server, token["token"])
                await raw.stream.send_all(partial)
                await raw.stream.aclose()
            await wait_until(lambda: server.stats.connections == 0)
            async with connect(token["server"]) as ws:
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"
            assert server.stats.internal_errors == 0


@pytest.mark.slow
async def test_command_flood_without_reading_does_not_block_others() -> None:
    with trio.fail_after(20):
        async with open_mock_server() as server:
            token = await new_token(server)
            flooder = await RawClient.open(server, token["token"])
            ping = flooder.ws.send(TextMessage(data='{"action":"ping"}'))
            with trio.move_on_after(2):  # the server stops reading it once its queue is full
                for _ in range(200):
                    await flooder.stream.send_all(ping * 100)
            other = await new_token(server, api_token="other")
            async with connect(other["server"]) as ws:
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"
            await flooder.stream.aclose()
            await wait_until(lambda: server.stats.connections == 0)
            assert server.stats.internal_errors == 0


async def test_oversized_message_closes_with_1009() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            raw = await RawClient.open(server, token["token"])
            await raw.send_text("x" * (2 << 20))
            assert await raw.read_until_closed() == 1009


@pytest.mark.slow
async def test_slow_reader_in_timed_replay_is_closed_with_1008() -> None:
    # Given big frames at speed 1000 and a 256 KiB queue bound
    big = [(i * 0.005, main_event(i, "m1") + b" " * 60_000) for i in range(400)]
    profile = dataclasses.replace(DEFAULT_PROFILE, slow_reader_max_queued_bytes=256 * 1024)
    config = ServerConfig(profile=profile, replay=ReplayOptions(speed=1.0))
    with trio.fail_after(20):
        async with open_mock_server(make_feed(big), config) as server:
            slow_token = await new_token(server, api_token="slow")
            slow = await RawClient.open(server, slow_token["token"])
            await slow.send_text(sub())  # ...and never reads
            fast_token = await new_token(server, api_token="fast")
            async with connect(fast_token["server"]) as fast:
                await ask(fast, sub())
                received = [json.loads(await fast.get_message()) for _ in range(400)]
            await server.journal.wait_for(lambda e: "slow reader closed" in e.summary)
    assert [frame["data"]["n"] for frame in received] == list(range(400))
    closes = [e.summary for e in server.journal.entries("ws_out") if e.summary.startswith("close")]
    assert any("1008" in summary for summary in closes)


@pytest.mark.slow
async def test_fifty_clients_some_misbehaving() -> None:
    count = 300
    feed = make_feed([(i * 0.001, main_event(i)) for i in range(count)])
    config = ServerConfig(replay=ReplayOptions(speed=None), stall_timeout_s=0.5)
    served: list[int] = []
    with trio.fail_after(45):
        async with open_mock_server(feed, config) as server:

            async def good(index: int) -> None:
                token = await new_token(server, api_token=f"good{index}")
                async with connect(token["server"]) as ws:
                    await ask(ws, sub())
                    numbers = [
                        json.loads(await ws.get_message())["data"]["n"] for _ in range(count)
                    ]
                    assert numbers == list(range(count))
                    served.append(index)

            async def silent(index: int) -> None:
                token = await new_token(server, api_token=f"silent{index}")
                raw = await RawClient.open(server, token["token"])
                await raw.send_text(sub())
                await trio.sleep_forever()

            async def rude(index: int) -> None:
                token = await new_token(server, api_token=f"rude{index}")
                raw = await RawClient.open(server, token["token"])
                for text in ("nonsense", "[]", '{"action":"subscribe"}', sub("MAIN", "x:y")):
                    await raw.send_text(text)
                await raw.stream.send_all(masked_frame(0x1, b"{")[:4])
                await raw.stream.aclose()

            async with trio.open_nursery() as clients:
                for i in range(5):
                    clients.start_soon(silent, i)
                    clients.start_soon(rude, i)
                async with trio.open_nursery() as readers:
                    for i in range(40):
                        readers.start_soon(good, i)
                clients.cancel_scope.cancel()
            assert server.stats.internal_errors == 0
    assert sorted(served) == list(range(40))


async def test_close_connections_clean_and_abrupt() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                assert await server.close_connections(code=1001, reason="going away") == 1
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                reason = closed.value.reason
                assert reason is not None
                assert (reason.code, reason.reason) == (
                    1001,
                    "going away",
                )
            raw = await RawClient.open(server, token["token"])
            assert await server.close_connections(abrupt=True) == 1
            assert await raw.read_until_closed() is None  # no close frame, the TCP just ends
            assert server.stats.connections == 0


async def test_stop_answering_pings() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                server.stop_answering_pings()
                await ws.send_message('{"action":"ping"}')
                with trio.move_on_after(0.3) as quiet:
                    await ws.ping(b"p")
                assert quiet.cancelled_caught  # no protocol pong either
                server.stop_answering_pings(False)
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"  # first ping lost


async def test_stalled_reader_at_speed_max_is_closed_and_the_other_goes_on() -> None:
    # Given one shared timeline at speed max, a reader that subscribes first
    count = 1500
    feed = make_feed([(i * 0.001, main_event(i) + b" " * 10_000) for i in range(count)])
    config = ServerConfig(replay=ReplayOptions(speed=None), broadcast=True, stall_timeout_s=0.5)
    with trio.fail_after(30):
        async with open_mock_server(feed, config) as server:
            good_token = await new_token(server, api_token="good")
            async with connect(good_token["server"]) as good:
                await ask(good, sub())
                # When a second client subscribes and never reads
                silent_token = await new_token(server, api_token="silent")
                silent = await RawClient.open(server, silent_token["token"])
                await silent.send_text(sub())
                await wait_until(lambda: server.stats.subscriptions == 2)
                # Then the reading client still gets every frame, in order
                numbers = [json.loads(await good.get_message())["data"]["n"] for _ in range(count)]
            assert numbers == list(range(count))
            notes = [e.summary for e in server.journal.entries("note")]
            assert any("slow reader closed: no progress" in note for note in notes)
            await silent.stream.aclose()
