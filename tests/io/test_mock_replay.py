"""Replay through a running mock: routing per scope (section 12), unsubscribe, timelines per
token (reconnect resumes, new token restarts, --broadcast shares), speed max, loop, start-at,
max-gap, rebase-time and the quiet end of a recording."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import trio
from trio_websocket import WebSocketConnection

from harness.core.schedule import ReplayOptions
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.mock_helpers import (
    STREAMED,
    ask,
    connect,
    echo_event,
    main_event,
    make_feed,
    new_token,
    sub,
    unsub,
)
from tests.waiting import wait_until

MAX = ReplayOptions(speed=None)

ROUTING_FEED = [
    (0.0, main_event(1, "m1", "l1")),
    (0.1, main_event(2, "m2", "l2")),
    (0.2, main_event(3, "m3", "l1")),
    (0.3, main_event(4, "rt-m1", "rt-l1", channel="MAIN_REALTIME")),
    (0.4, echo_event(5, "match", "m1")),
    (0.5, echo_event(6, "league", "l1")),
    (0.6, echo_event(7, "all", None)),
    (0.7, echo_event(8, "match", "m1", channel="ODDS")),
    (0.8, main_event(9, "m1", "l1", channel="STATS_REALTIME")),
]


async def read_until_quiet(ws: WebSocketConnection, server: MockServer) -> list[int]:
    """Event numbers received until the timeline ended; a ping then proves nothing else came."""
    await wait_until(lambda: server.stats.ended)
    numbers: list[int] = []
    await ws.send_message('{"action":"ping"}')
    while True:
        frame = json.loads(await ws.get_message())
        if frame.get("type") == "pong":
            return numbers
        numbers.append(frame["data"]["n"])


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (("MAIN", "all", None), [1, 2, 3]),
        (("MAIN", "match", "m1"), [1]),
        (("MAIN", "league", "l1"), [1, 3]),
        (("MAIN_REALTIME", "all", None), [4]),
        (("MAIN_REALTIME", "match", "rt-m1"), [4]),
        (("STATS", "match", "m1"), [5]),
        (("STATS", "league", "l1"), [6]),
        (("STATS", "all", None), [7]),
        (("ODDS", "match", "m1"), [8]),
        (("STATS_REALTIME", "league", "l1"), [9]),
        (("STATS", "match", "m9"), []),
    ],
)
async def test_routing_per_scope(topic: tuple[str, str, str | None], expected: list[int]) -> None:
    feed = make_feed(ROUTING_FEED)
    with trio.fail_after(10):
        async with open_mock_server(feed, ServerConfig(replay=MAX)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                assert (await ask(ws, sub(*topic)))["type"] == "subscribed"
                assert await read_until_quiet(ws, server) == expected
    notes = [e.summary for e in server.journal.entries("note")]
    recorded_never = any("never subscribed in the recording" in note for note in notes)
    unrecorded = topic == ("STATS", "match", "m9")
    assert recorded_never == (unrecorded and not STREAMED)  # a feed on disk: topics unknown


async def test_frames_are_sent_byte_for_byte() -> None:
    odd = (
        b'{ "type" : "goal","channel":"MAIN","matchId":"m1","leagueId":"l1","ts":1 ,"x":"\\u00e9"}'
    )
    feed = make_feed([(0.0, odd)])
    with trio.fail_after(10):
        async with open_mock_server(feed, ServerConfig(replay=MAX)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                message = await ws.get_message()
                assert isinstance(message, str)
                assert message.encode() == odd


async def test_unsubscribe_stops_routing() -> None:
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub("MAIN", "match", "m1"))
                assert server.push(main_event(1, "m1")) == 1
                assert server.push(main_event(2, "m2")) == 0
                assert json.loads(await ws.get_message())["data"]["n"] == 1
                assert (await ask(ws, unsub("MAIN", "match", "m1")))["type"] == "unsubscribed"
                assert server.push(main_event(3, "m1")) == 0
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"


def slow_feed(count: int, gap_s: float) -> list[tuple[float, bytes]]:
    return [(i * gap_s, main_event(i + 1)) for i in range(count)]


async def first_number(ws: WebSocketConnection) -> int:
    value: int = json.loads(await ws.get_message())["data"]["n"]
    return value


async def test_reconnect_resumes_and_new_token_restarts() -> None:
    # Given a timed feed: one frame every 50 ms
    feed = make_feed(slow_feed(200, 0.05))
    with trio.fail_after(20):
        async with open_mock_server(feed) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert [await first_number(ws) for _ in range(2)] == [1, 2]
            # When the client is away while the feed moves on, then reconnects
            await wait_until(lambda: server.stats.position >= 8)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                resumed = await first_number(ws)
            # Then it resumes where the feed is now (frames sent while away are missed)
            assert resumed >= 8
            other = await new_token(server, api_token="someone-else")
            async with connect(other["server"]) as ws:
                await ask(ws, sub())
                assert await first_number(ws) == 1  # a new token starts a new timeline


async def test_broadcast_shares_one_timeline() -> None:
    feed = make_feed(slow_feed(200, 0.05))
    config = ServerConfig(broadcast=True)
    with trio.fail_after(20):
        async with open_mock_server(feed, config) as server:
            first = await new_token(server, api_token="a")
            async with connect(first["server"]) as ws:
                await ask(ws, sub())
                await wait_until(lambda: server.stats.position >= 6)
            second = await new_token(server, api_token="b")
            async with connect(second["server"]) as ws:
                await ask(ws, sub())
                assert await first_number(ws) >= 6


async def test_speed_max_delivers_everything_in_order() -> None:
    count = 5000
    feed = make_feed(slow_feed(count, 1.0))
    with trio.fail_after(30):
        async with open_mock_server(feed, ServerConfig(replay=MAX)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                numbers = [await first_number(ws) for _ in range(count)]
    assert numbers == list(range(1, count + 1))
    assert server.stats.ended
    assert server.stats.frames_sent == count


async def test_loop_start_at_and_max_gap() -> None:
    feed = make_feed([(0.0, main_event(1)), (50.0, main_event(2)), (100.0, main_event(3))])
    options = ReplayOptions(speed=1.0, start_at_ns=40 * 10**9, max_gap_ns=20_000_000, loop=True)
    with trio.fail_after(10):
        async with open_mock_server(feed, ServerConfig(replay=options)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert [await first_number(ws) for _ in range(4)] == [2, 3, 2, 3]


async def test_rebase_time_rewrites_ts_only() -> None:
    feed = make_feed([(0.0, main_event(1))])
    options = ReplayOptions(speed=None, rebase_time=True)
    with trio.fail_after(10):
        async with open_mock_server(feed, ServerConfig(replay=options)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                frame: dict[str, Any] = json.loads(await ws.get_message())
    original = json.loads(main_event(1))
    assert abs(frame["ts"] - time.time() * 1000) < 10_000
    assert {**frame, "ts": original["ts"]} == original


async def test_end_of_recording_stays_open_and_answers_pings() -> None:
    feed = make_feed([(0.0, main_event(1))])
    with trio.fail_after(10):
        async with open_mock_server(feed, ServerConfig(replay=MAX)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await first_number(ws) == 1
                await wait_until(lambda: server.stats.ended)
                assert (await ask(ws, '{"action":"ping"}'))["type"] == "pong"
                assert server.stats.connections == 1
    assert any("end of recording" in e.summary for e in server.journal.entries("note"))


async def test_start_at_past_the_end_is_a_usage_error() -> None:
    from harness.errors import UsageError

    feed = make_feed([(0.0, main_event(1))])
    config = ServerConfig(replay=ReplayOptions(start_at_ns=10**12))
    with pytest.raises(UsageError, match="past the end"):
        async with open_mock_server(feed, config):
            pass
