"""A timeline with nobody subscribed costs nothing (issue 8): it parks, no task waking, and a
reconnect resumes where the feed is now (frames due meanwhile are missed, as live)."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection

from harness.core.schedule import ReplayOptions
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.mock_helpers import ask, connect, main_event, make_feed, new_token, sub, unsub
from tests.waiting import wait_until as poll

FRAMES = 400
GAP_S = 0.05
FEED = make_feed([(i * GAP_S, main_event(i)) for i in range(FRAMES)], duration_s=FRAMES * GAP_S)
TIMED = ReplayOptions(speed=1.0, loop=True)
MAX = ReplayOptions(speed=None, loop=True)
REBASE = ReplayOptions(speed=None, loop=True, rebase_time=True)


async def number(ws: WebSocketConnection) -> int:
    value: int = json.loads(await ws.get_message())["data"]["n"]
    return value


async def wait_parked(server: MockServer) -> tuple[int, int]:
    await poll(lambda: server.stats.parked == 1)
    return server.stats.timeline_steps, server.stats.position


@pytest.mark.parametrize("leaving", ["disconnects", "unsubscribes"])
async def test_a_timed_timeline_parks_and_resumes_where_the_feed_is_now(
    leaving: str, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(300):
        async with open_mock_server(FEED, ServerConfig(replay=TIMED)) as server:
            token = await new_token(server)
            # Given a client that got the first frames, then left (or holds nothing any more)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert [await number(ws) for _ in range(3)] == [0, 1, 2]
                if leaving == "unsubscribes":
                    await ask(ws, unsub())
                    steps, position = await wait_parked(server)
                    await trio.sleep(30)
                    assert server.stats.timeline_steps == steps
            if leaving == "disconnects":
                steps, position = await wait_parked(server)
            # When a long while passes (many laps' worth of frames)
            await trio.sleep(30)
            # Then the timeline did not wake once, yet the feed moved on
            assert server.stats.timeline_steps == steps
            assert server.stats.position >= position + 30 / GAP_S
            # And a reconnect resumes where the feed is now
            now = server.stats.position
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                resumed = await number(ws)
    assert (resumed - now) % FRAMES <= 2


@pytest.mark.parametrize("options", [MAX, REBASE], ids=["max", "max-rebase"])
async def test_a_max_speed_loop_parks_when_nobody_holds_a_subscription(
    options: ReplayOptions, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(300):
        async with open_mock_server(FEED, ServerConfig(replay=options)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                await number(ws)
                await ws.send_message(unsub())
                steps, position = await wait_parked(server)
                await trio.sleep(30)
                assert server.stats.timeline_steps == steps
                assert server.stats.position == position  # at max speed: resumes where it paused
