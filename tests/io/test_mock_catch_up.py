"""A client that subscribes to several topics one after the other gets every recorded frame of
each, in recorded order, whatever the pause between its subscribe commands and the speed
(issue 7: settle window and catch-up, :mod:`harness.core.timeline`)."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection

from harness.core.schedule import ReplayOptions
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.mock_helpers import connect, echo_event, main_event, make_feed, new_token, sub

MAIN_COUNT = 300
STATS_COUNT = 120
# MAIN and STATS match m1 interleaved over 3 s of recording time (STATS every 2.5th frame)
FEED = make_feed(
    sorted(
        [(i * 0.01, main_event(i, "m1", "l1")) for i in range(MAIN_COUNT)]
        + [(i * 0.025 + 0.001, echo_event(1000 + i, "match", "m1")) for i in range(STATS_COUNT)]
    )
)
SPEEDS = {"max": ReplayOptions(speed=None), "timed": ReplayOptions(speed=1.0)}


async def subscribe_one_after_the_other(server: MockServer, pause_s: float) -> dict[str, list[int]]:
    """Subscribe MAIN, wait for ``subscribed``, pause, subscribe STATS; every event by channel."""
    token = await new_token(server)
    received: dict[str, list[int]] = {"MAIN": [], "STATS": []}
    async with connect(token["server"]) as ws:
        await ws.send_message(sub("MAIN"))
        await _read_until(ws, received, lambda frame: frame.get("type") == "subscribed")
        await trio.sleep(pause_s)
        await ws.send_message(sub("STATS", "match", "m1"))

        def complete(_: dict[str, object]) -> bool:
            return len(received["MAIN"]) >= MAIN_COUNT and len(received["STATS"]) >= STATS_COUNT

        await _read_until(ws, received, complete)
        # a ping proves nothing else (no duplicate) was queued behind
        await ws.send_message('{"action":"ping"}')
        await _read_until(ws, received, lambda frame: frame.get("type") == "pong")
    return received


async def _read_until(
    ws: WebSocketConnection, received: dict[str, list[int]], done: object
) -> None:
    assert callable(done)
    for _ in range(MAIN_COUNT + STATS_COUNT + 10):
        frame = json.loads(await ws.get_message())
        if frame.get("channel") in received and "data" in frame:
            received[frame["channel"]].append(frame["data"]["n"])
        if done(frame):
            return
    raise AssertionError("more frames than the recording holds")


def _assert_everything_in_order(received: dict[str, list[int]]) -> None:
    assert received["MAIN"] == list(range(MAIN_COUNT))
    assert received["STATS"] == [1000 + i for i in range(STATS_COUNT)]


@pytest.mark.parametrize("pause_ms", [0, 10, 100, 1000])
@pytest.mark.parametrize("speed", sorted(SPEEDS))
async def test_every_frame_of_each_topic_whatever_the_pause(
    speed: str, pause_ms: int, autojump_clock: trio.testing.MockClock
) -> None:
    # Given a replay of MAIN and STATS frames (virtual clock: the 1000 ms pause costs nothing)
    with trio.fail_after(60):
        async with open_mock_server(FEED, ServerConfig(replay=SPEEDS[speed])) as server:
            # When a client subscribes MAIN, then STATS after a pause
            received = await subscribe_one_after_the_other(server, pause_ms / 1000)
            caught_up = any("catch-up" in e.summary for e in server.journal.entries("note"))
    # Then it gets every recorded frame of each, in recorded order: the settle window covers
    # the short pauses, a catch-up the long ones
    _assert_everything_in_order(received)
    assert caught_up == (pause_ms >= 100)


@pytest.mark.parametrize("pause_ms", [0, 10, 100])
async def test_every_frame_at_speed_max_on_the_real_clock(pause_ms: int) -> None:
    with trio.fail_after(30):
        async with open_mock_server(FEED, ServerConfig(replay=SPEEDS["max"])) as server:
            received = await subscribe_one_after_the_other(server, pause_ms / 1000)
    _assert_everything_in_order(received)
