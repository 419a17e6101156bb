"""Reliability of the mock under clients that leave, close, flood and misbehave: the replay hang,
nothing after a Close, strict handshakes, fragment floods, parked timelines, graceful stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trio
from wsproto.events import CloseConnection

from harness.core.schedule import ReplayOptions
from harness.server import ServerConfig, open_mock_server
from tests.io.mock_helpers import main_event, make_feed, new_token, sub
from tests.io.raw_client import RawClient, read_to_eof, server_frames

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
            await raw.stream.receive_some(65536)  # the stream is flowing
            # When the client closes mid-stream
            await raw.stream.send_all(raw.ws.send(CloseConnection(code=1000)))
            frames = server_frames(await read_to_eof(raw.stream))
    # Then the server's Close echo is the last frame it sends (RFC 6455 5.5.1)
    opcodes = [opcode for opcode, _ in frames]
    assert OPCODE_CLOSE in opcodes
    assert opcodes.index(OPCODE_CLOSE) == len(opcodes) - 1
