"""Reliability of the mock under clients that leave, close, flood and misbehave: the replay hang,
nothing after a Close, strict handshakes, fragment floods, parked timelines, graceful stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trio
from wsproto.events import CloseConnection

from harness.core.profile import DEFAULT_PROFILE
from harness.core.schedule import ReplayOptions
from harness.server import ServerConfig, open_mock_server
from tests.io.mock_helpers import main_event, make_feed, new_token, sub
from tests.io.raw_client import RawClient, read_to_eof, server_frames
from tests.io.test_mock_robustness import masked_frame
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_TIMEOUT_S = 30.0
MEMORY_LIMIT = 1 << 30


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT * 2, MEMORY_LIMIT * 2))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")
@pytest.mark.parametrize("mode", ["abrupt", "clean"])
def test_server_answers_after_a_realtime_subscriber_leaves(mode: str) -> None:
    # Given a --speed max --loop replay and a client holding STATS_REALTIME:all and
    # ODDS_REALTIME:all that fell behind, when it leaves, then REST and WS still answer
    # (in a child process: a server that never yields again would hang this test run)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.io.hang_scenario", mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT_S,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the server stopped answering after the subscriber left")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scenario passed" in done.stdout


OPCODE_CLOSE = 0x8


async def test_no_data_frame_follows_the_close_echo() -> None:
    # Given a --speed max --loop replay streaming to a raw client
    feed = make_feed([(i * 0.01, main_event(i) + b" " * 500) for i in range(200)])
    config = ServerConfig(replay=ReplayOptions(speed=None, loop=True))
    with trio.fail_after(20):
        async with open_mock_server(feed, config) as server:
            token = await new_token(server)
            raw = await RawClient.open(server, token["token"])
            await raw.send_text(sub())
            await wait_until(lambda: server.stats.frames_sent > 100)  # the stream is flowing
            # When the client closes mid-stream
            await raw.stream.send_all(raw.ws.send(CloseConnection(code=1000)))
            frames = server_frames(await read_to_eof(raw.stream))
    # Then the server's Close echo is the last frame it sends (RFC 6455 5.5.1)
    opcodes = [opcode for opcode, _ in frames]
    assert OPCODE_CLOSE in opcodes
    assert opcodes.index(OPCODE_CLOSE) == len(opcodes) - 1


async def test_a_flood_of_empty_continuation_frames_closes_with_1009() -> None:
    # Given a profile bounding messages to 1024 frames (the default)
    assert DEFAULT_PROFILE.max_message_fragments == 1024
    with trio.fail_after(10):
        async with open_mock_server() as server:
            token = await new_token(server)
            # A message in a few fragments is fine...
            raw = await RawClient.open(server, token["token"])
            parts = [b'{"action"', b':"ping"}']
            await raw.stream.send_all(
                masked_frame(0x1, parts[0], fin=False)
                + masked_frame(0x0, b"", fin=False) * 10
                + masked_frame(0x0, parts[1])
            )
            assert b'"type":"pong"' in await raw.stream.receive_some(65536)
            # ...but one that never ends, in empty continuation frames, is closed with 1009
            await raw.stream.send_all(
                masked_frame(0x1, b"{", fin=False) + masked_frame(0x0, b"", fin=False) * 2000
            )
            assert await raw.read_until_closed() == 1009
            assert server.stats.internal_errors == 0
