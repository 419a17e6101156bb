"""A feed read from disk behind the player: a seek far ahead of what has been read jumps there
by the index (it does not read what lies between), and ``--loop`` goes on from ``--start-at``
after it.  The rest of the server tests run on streamed feeds too (``HARNESS_TEST_STREAMED``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection

from harness.core import feed_stream
from harness.core.feed_stream import StreamedFeed
from harness.core.recording import open_writer
from harness.core.records import Direction, Header, WsMessage
from harness.core.schedule import ReplayOptions
from harness.server import MockServer, ServerConfig, open_mock_server, timelines
from tests.io.mock_helpers import ask, connect, main_event, new_token, sub
from tests.waiting import wait_until as poll

S = 1_000_000_000
FRAMES = 60


@pytest.fixture
def feed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StreamedFeed:
    """Frame ``i`` at ``i`` seconds (seen on two connections), in blocks of 4, read ahead 2;
    every seek past what was read jumps."""
    monkeypatch.setattr(feed_stream, "BLOCK_FRAMES", 4)
    monkeypatch.setattr(feed_stream, "READ_INLINE_BYTES", -1)
    monkeypatch.setattr(timelines, "READ_AHEAD", 2)
    path = tmp_path / "feed.msgpack"
    subscribe = sub().encode()
    with open_writer(
        path, Header("2024-01-15T10:00:00+00:00", "test", "0"), index=True, blocks=True
    ) as out:
        out.add(WsMessage(0, 1, Direction.CLIENT_TO_SERVER, subscribe))
        for i in range(FRAMES):
            out.add(WsMessage(i * S, 1, Direction.SERVER_TO_CLIENT, main_event(i)))
            out.add(WsMessage(i * S + 1000, 2, Direction.SERVER_TO_CLIENT, main_event(i)))
    return StreamedFeed(path)


async def numbers(ws: WebSocketConnection, count: int) -> list[int]:
    return [json.loads(await ws.get_message())["data"]["n"] for _ in range(count)]


async def _subscribed(server: MockServer, ws: WebSocketConnection) -> None:
    await ask(ws, sub())
    await server.journal.wait_for_subscription("MAIN:all", timeout=5)
    await poll(lambda: server.stats.timelines == 1)


@pytest.mark.parametrize("speed", [1.0, None], ids=["timed", "max-paused"])
async def test_a_far_seek_jumps_and_the_loop_goes_on_from_start_at(
    feed: StreamedFeed, speed: float | None, autojump_clock: trio.testing.MockClock
) -> None:
    replay = ReplayOptions(speed=speed, loop=True, start_at_ns=5 * S)
    with trio.fail_after(600):
        async with open_mock_server(feed, ServerConfig(replay=replay)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                if speed is None:
                    server.pause()
                await _subscribed(server, ws)
                if speed is None:
                    server.play_next(2)
                assert await numbers(ws, 2) == [5, 6]
                server.seek(40.5)
                assert server.stats.position_s == 40.5  # where it is, before a frame is sent
                lap = server._timelines[token["token"]].cursor.lap
                assert isinstance(lap, feed_stream.StreamedLap)
                assert lap.known() < FRAMES - 40  # read from the jump, not from frame 7
                if speed is None:
                    assert server.play_next(25) == 25
                got = await numbers(ws, 25)
    # Then the client gets the frames from the seek on, once each, then the next lap
    assert got == [*range(41, FRAMES), *range(5, 11)]
