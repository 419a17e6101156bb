"""Property test of the live board against any stream, and the regression test it leaves.

The property test serves each hypothesis example on a reset server (``soccer_server.serving``)
and checks the board's invariants; a failure shrinks to a minimal stream, saved as
``tests/recordings/livescore-minimal.msgpack``, which the regression test replays.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from livescore import CHANNELS, follow

from harness.strategies import streams

MINIMAL = "livescore-minimal"
SAVED = Path(__file__).parent / "recordings" / f"{MINIMAL}.msgpack"


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stream=streams(channels=CHANNELS, max_size=10))
def test_the_board_follows_any_stream(soccer_server, stream):
    # a fresh server state per example: function fixtures are not reset between examples
    with soccer_server.serving(stream, save_failure=MINIMAL):
        board = follow(soccer_server.api_base, soccer_server.api_token)
        started = {f.event["matchId"] for f in stream if f.event["type"] == "match_start"}
        assert started <= set(board.matches)


@pytest.mark.skipif(not SAVED.exists(), reason="no failing stream saved: run the property test")
@pytest.mark.soccer_recording(MINIMAL)
def test_the_saved_failing_stream(soccer_server):
    with ThreadPoolExecutor(1) as pool:
        board = pool.submit(follow, soccer_server.api_base, soccer_server.api_token)
        soccer_server.wait_delivered(timeout=10)
        soccer_server.close_connections()
        board.result(timeout=10)  # raises what the board raised
