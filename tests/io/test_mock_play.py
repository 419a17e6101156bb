"""``MockServer.play``: a given list of frames served as the feed to a real client, replacing
the recording, on fresh timelines; ``wait_delivered`` and ``reset`` after it."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed

from harness.core.schedule import ReplayOptions
from harness.core.stream import Frame, StreamFrame
from harness.errors import UsageError
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.mock_helpers import ask, connect, main_event, make_feed, new_token, sub

RECORDED = make_feed([(float(i), main_event(1000 + i)) for i in range(5)], duration_s=5)
RAW = b'{"type":"goal","channel":"MAIN","matchId":"m1","leagueId":"l1","ts":3,"data":{"n":3}}'
GIVEN: list[Frame] = [
    {
        "type": "goal",
        "channel": "MAIN",
        "matchId": "m1",
        "leagueId": "l1",
        "ts": 1,
        "data": {"n": 1},
    },
    '{"type":"goal","channel":"MAIN","matchId":"m1","leagueId":"l1","ts":2,"data":{"n":2}}',
    RAW,
    "not json at all",
]


def _config(speed: float | None = None) -> ServerConfig:
    return ServerConfig(replay=ReplayOptions(speed=speed))


async def _read_all(server: MockServer, *, subscribe_first: bool) -> tuple[list[str], object]:
    """A client that reads until the server closes the connection: what it got, the close."""
    token = await new_token(server)
    got: list[str] = []
    async with connect(token["server"]) as ws:
        assert (await ask(ws, sub()))["type"] == "subscribed"
        if subscribe_first:
            server.play(GIVEN, close_when_delivered=True)
        while True:
            try:
                got.append(str(await ws.get_message()))
            except ConnectionClosed:
                break
    reason = ws.closed
    assert reason is not None
    return got, (reason.code, reason.reason)


@pytest.mark.parametrize("subscribe_first", [False, True], ids=["then-connect", "connected"])
async def test_play_serves_the_given_frames_instead_of_the_recording(subscribe_first: bool) -> None:
    # Given a server of a recording (frames numbered 1000 and up)
    async with open_mock_server(RECORDED, _config()) as server:
        # When the test plays its own frames (before or after the client subscribed)
        if not subscribe_first:
            assert server.play(GIVEN, close_when_delivered=True) == 4
        got, close = await _read_all(server, subscribe_first=subscribe_first)
    # Then the client gets exactly those, in order, garbage included, then the close
    assert got[0] == json.dumps(GIVEN[0], separators=(",", ":"))
    assert got[1:] == [GIVEN[1], RAW.decode(), GIVEN[3]]
    assert close == (1000, "played frames delivered")
    assert server.stats.total_frames == 4


async def test_wait_delivered_returns_once_every_played_frame_was_sent() -> None:
    async with open_mock_server(RECORDED, _config()) as server:
        server.play([StreamFrame(0.0, {"type": "goal", "channel": "MAIN", "matchId": "x",
                                       "leagueId": "y", "ts": 5, "data": {}})])  # fmt: skip
        token = await new_token(server)
        async with connect(token["server"]) as ws:
            await ask(ws, sub())
            with trio.fail_after(5):
                await server.wait_delivered()
            assert json.loads(await ws.get_message())["matchId"] == "x"
            assert server.stats.delivered


async def test_played_stream_frames_keep_their_offsets(
    autojump_clock: trio.testing.MockClock,
) -> None:
    frames = [StreamFrame(10.0 * i, json.loads(main_event(i))) for i in range(3)]
    async with open_mock_server(RECORDED, _config(1.0)) as server:
        server.play(frames, speed=1)
        token = await new_token(server)
        async with connect(token["server"]) as ws:
            await ask(ws, sub())
            start = trio.current_time()
            times = []
            for _ in range(3):
                await ws.get_message()
                times.append(trio.current_time() - start)
    assert [round(t) for t in times] == [0, 10, 20]


async def test_reset_after_play_serves_the_recording_again() -> None:
    async with open_mock_server(RECORDED, _config()) as server:
        server.play(GIVEN)
        await server.reset()
        token = await new_token(server)
        async with connect(token["server"]) as ws:
            await ask(ws, sub())
            assert json.loads(await ws.get_message())["data"]["n"] == 1000
    assert server.stats.total_frames == 5


async def test_play_refuses_bytes_that_are_not_text() -> None:
    async with open_mock_server(RECORDED, _config()) as server:
        with pytest.raises(UsageError, match="frame 1 is not UTF-8 text"):
            server.play(["{}", b"\xff\xfe"])
        with pytest.raises(UsageError, match="invalid speed"):
            server.play(["{}"], speed="fast")
