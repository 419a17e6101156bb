"""The player services on a real client (pause, resume, play_next, seek, set_speed), the
waits (wait_delivered, wait_for_subscription) and reset; every party in one trio run under the
mock clock, so no test waits for real time."""

from __future__ import annotations

import json

import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection

from harness.core.schedule import ReplayOptions
from harness.errors import UsageError, WaitTimeout
from harness.server import MockServer, ServerConfig, open_mock_server
from tests.io.mock_helpers import ask, connect, main_event, make_feed, new_token, sub
from tests.waiting import wait_until as poll

FRAMES = 200
FEED = make_feed([(float(i), main_event(i)) for i in range(FRAMES)], duration_s=FRAMES)
"""Frame ``i`` at ``i`` seconds."""
SPEEDS = [pytest.param(1.0, id="timed"), pytest.param(None, id="max")]


async def number(ws: WebSocketConnection) -> int:
    value: int = json.loads(await ws.get_message())["data"]["n"]
    return value


async def numbers(ws: WebSocketConnection, count: int) -> list[int]:
    return [await number(ws) for _ in range(count)]


async def quiet(ws: WebSocketConnection, seconds: float) -> bool:
    """Nothing arrives for ``seconds``."""
    with trio.move_on_after(seconds) as waiting:
        await ws.get_message()
    return waiting.cancelled_caught


class StepCounter(trio.abc.Instrument):
    """Counts task steps: how often any task woke."""

    def __init__(self) -> None:
        self.steps = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1


def config(speed: float | None = 1.0, **replay: bool) -> ServerConfig:
    return ServerConfig(replay=ReplayOptions(speed=speed, **replay))


async def subscribed(server: MockServer, ws: WebSocketConnection) -> None:
    await ask(ws, sub())
    await server.journal.wait_for_subscription("MAIN:all", timeout=5)
    await poll(lambda: server.stats.timelines == 1)


async def test_pause_parks_and_resume_plays_on_from_where_it_paused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config()) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await numbers(ws, 3) == [0, 1, 2]
                # When the player is paused for a long while
                server.pause()
                assert server.stats.paused
                await poll(lambda: server.stats.parked == 1)
                steps = server.stats.timeline_steps
                counter = StepCounter()
                trio.lowlevel.add_instrument(counter)
                try:
                    assert await quiet(ws, 120)
                finally:
                    trio.lowlevel.remove_instrument(counter)
                # Then nothing was sent and no task kept waking (the whole server was still)
                assert server.stats.timeline_steps == steps
                assert counter.steps < 20
                assert server.stats.position == 3
                # And a resume plays on with the next frame, the gap to it kept
                server.resume()
                resumed = trio.current_time()
                assert await number(ws) == 3
                assert 0 < trio.current_time() - resumed <= 1.0 + 1e-6
                assert await number(ws) == 4


@pytest.mark.parametrize("speed", SPEEDS)
@pytest.mark.parametrize("rebase", [False, True], ids=["plain", "rebase"])
async def test_play_next_sends_exactly_the_next_frames_while_paused(
    speed: float | None, rebase: bool, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(speed, rebase_time=rebase)) as server:
            # Given a player paused before the client subscribed
            server.pause()
            with pytest.raises(UsageError, match="n must be"):
                server.play_next(0)
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await subscribed(server, ws)
                assert await quiet(ws, 60)
                # When frames are stepped through
                assert server.play_next(3) == 3
                assert await numbers(ws, 3) == [0, 1, 2]
                assert await quiet(ws, 60)
                assert server.play_next() == 1
                assert await number(ws) == 3
                # Then a resume plays on from there
                server.resume()
                assert await numbers(ws, 2) == [4, 5]
                with pytest.raises(UsageError, match="paused"):
                    server.play_next()


async def test_play_next_passes_over_frames_nobody_wants(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Given a recording alternating two matches, and a client subscribed to one of them
    mixed = make_feed([(float(i), main_event(i, match=f"m{i % 2}")) for i in range(20)])
    with trio.fail_after(60):
        async with open_mock_server(mixed, config(loop=True)) as server:
            server.pause()
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub("MAIN", "match", "m1"))
                await server.journal.wait_for_subscription("MAIN:match:m1", timeout=5)
                # When two frames are stepped
                assert server.play_next(2) == 2
                # Then they are the next two of that match
                assert await numbers(ws, 2) == [1, 3]
                assert server.stats.position == 4
                await ask(ws, sub("MAIN", "match", "m1").replace("subscribe", "unsubscribe"))
                await ask(ws, sub("MAIN", "match", "m9"))
                assert server.play_next(2) == 0  # nothing in a whole lap: bounded, none sent


async def test_play_next_at_the_end_sends_what_is_left(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with open_mock_server(FEED, config(None)) as server:
            server.pause()
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await subscribed(server, ws)
                server.seek(FRAMES - 2)
                assert server.play_next(5) == 2
                assert await numbers(ws, 2) == [FRAMES - 2, FRAMES - 1]
                assert server.play_next(5) == 0


async def test_seek_forward_and_back_while_playing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config()) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await numbers(ws, 2) == [0, 1]
                # When the player jumps ahead, the frames in between are not sent
                server.seek(50)
                assert await numbers(ws, 2) == [50, 51]
                # And back: the frames from there come again, on time
                server.seek(10.5)
                sought = trio.current_time()
                assert await number(ws) == 11
                assert trio.current_time() - sought == pytest.approx(0.5, abs=1e-6)
                assert server.stats.position == 12
                with pytest.raises(UsageError, match="past the end"):
                    server.seek(FRAMES + 1)


@pytest.mark.parametrize("speed", SPEEDS)
async def test_seek_while_paused_then_step(
    speed: float | None, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(speed)) as server:
            server.pause()
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await subscribed(server, ws)
                server.seek(30)
                assert server.play_next(1) == 1
                assert await number(ws) == 30
                server.resume()
                assert await number(ws) == 31


async def test_seek_with_loop_stays_within_the_lap(autojump_clock: trio.testing.MockClock) -> None:
    feed = make_feed([(float(i), main_event(i)) for i in range(10)], duration_s=10)
    with trio.fail_after(600):
        async with open_mock_server(feed, config(loop=True)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await numbers(ws, 12) == [*range(10), 0, 1]
                # When the second lap is sought to 5 s
                server.seek(5)
                # Then it plays from frame 5 of that lap
                assert await numbers(ws, 6) == [5, 6, 7, 8, 9, 0]
                assert server.stats.position == 21


async def test_set_speed_takes_effect_from_now_without_a_jump(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config()) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await numbers(ws, 2) == [0, 1]
                # When the speed goes to 10x right after frame 1
                changed = trio.current_time()
                server.set_speed(10)
                assert server.stats.speed == 10
                # Then the next ten frames take one second, none skipped
                assert await numbers(ws, 10) == list(range(2, 12))
                assert trio.current_time() - changed == pytest.approx(1.0, abs=1e-6)
                # And at max the rest comes at once
                server.set_speed(None)
                at_max = trio.current_time()
                assert await numbers(ws, FRAMES - 12) == list(range(12, FRAMES))
                assert trio.current_time() - at_max < 0.01
                with pytest.raises(UsageError, match="invalid speed"):
                    server.set_speed(0)


async def test_from_max_to_a_speed_keeps_the_gaps(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(None)) as server:
            server.pause()
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await subscribed(server, ws)
                assert server.play_next(1) == 1
                assert await number(ws) == 0
                server.set_speed(2)
                server.resume()
                resumed = trio.current_time()
                assert await numbers(ws, 3) == [1, 2, 3]
                assert trio.current_time() - resumed == pytest.approx(1.5, abs=1e-6)


async def test_pauses_resumes_and_speed_changes_do_not_drift(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(3600):
        async with open_mock_server(FEED, config()) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await number(ws) == 0
                start = trio.current_time()
                # When every tenth frame is followed by a 5 s pause, and the speed changes
                for i in range(1, 100):
                    assert await number(ws) == i
                    if i % 10 == 0:
                        server.pause()
                        await trio.sleep(5)
                        server.resume()
                    if i == 50:
                        server.set_speed(4)
                # Then frame 99 came exactly when the recording says it should
                expected = 50 + 49 / 4 + 9 * 5
                assert trio.current_time() - start == pytest.approx(expected, abs=1e-6)


async def test_wait_delivered_returns_once_the_recording_was_sent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(10)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                before = server.stats
                assert not before.delivered
                await ask(ws, sub())
                await server.wait_delivered(timeout=FRAMES / 10 + 1)
                assert server.stats.delivered
                assert server.stats.ended
                assert server.stats.frames_sent == FRAMES
                assert await numbers(ws, FRAMES) == list(range(FRAMES))


async def test_wait_delivered_with_loop_means_the_first_lap(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(None, loop=True)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                await server.wait_delivered(timeout=60)
                assert server.stats.position >= FRAMES
                assert await numbers(ws, FRAMES) == list(range(FRAMES))


async def test_wait_delivered_times_out_while_paused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(None)) as server:
            server.pause()
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await subscribed(server, ws)
                with pytest.raises(WaitTimeout, match="timed out after 5s waiting for the rec"):
                    await server.wait_delivered(timeout=5)


async def test_wait_for_subscription_and_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config()) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(ask, ws, sub())
                    entry = await server.journal.wait_for_subscription("MAIN:all", timeout=5)
                assert entry.kind == "ws_out"
                with pytest.raises(WaitTimeout, match="a subscribed reply for STATS:all"):
                    await server.journal.wait_for_subscription("STATS:all", timeout=3)


async def test_reset_starts_over_with_the_same_recording(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config()) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                assert await numbers(ws, 5) == [0, 1, 2, 3, 4]
                server.pause()
                # When the server is reset
                await server.reset()
                # Then the client was closed with 1001
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.get_message()
                reason = closed.value.reason
                assert reason is not None
                assert reason.code == 1001
            # And everything is fresh: a new token, a new timeline from the start, playing
            stats = server.stats
            assert (stats.connections, stats.timelines, stats.frames_sent) == (0, 0, 0)
            assert not stats.paused
            assert len(server.journal) == 0
            fresh = await new_token(server)
            assert fresh["token"] != token["token"]
            async with connect(fresh["server"]) as ws:
                await ask(ws, sub())
                assert await numbers(ws, 2) == [0, 1]


async def test_a_seek_back_after_the_end_plays_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        async with open_mock_server(FEED, config(None)) as server:
            token = await new_token(server)
            async with connect(token["server"]) as ws:
                await ask(ws, sub())
                await server.wait_delivered(timeout=60)
                assert await numbers(ws, FRAMES) == list(range(FRAMES))
                await poll(lambda: server.stats.ended)
                # When the ended replay is sought back
                server.seek(FRAMES - 3)
                # Then it plays from there again, and ends again
                assert await numbers(ws, 3) == [FRAMES - 3, FRAMES - 2, FRAMES - 1]
                await server.wait_delivered(timeout=60)
                await poll(lambda: server.stats.ended)


async def test_the_broadcast_timeline_is_driven_too(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(600):
        broadcast = ServerConfig(replay=ReplayOptions(speed=1.0), broadcast=True)
        async with open_mock_server(FEED, broadcast) as server:
            server.pause()
            first, second = await new_token(server), await new_token(server, "other-key")
            async with connect(first["server"]) as a, connect(second["server"]) as b:
                await ask(a, sub())
                await ask(b, sub())
                # One shared timeline: one frame stepped reaches both clients
                assert server.play_next(2) == 2
                assert await numbers(a, 2) == [0, 1]
                assert await numbers(b, 2) == [0, 1]
                server.seek(100)
                server.set_speed(100)
                server.resume()
                assert await number(a) == 100
                assert await number(b) == 100
