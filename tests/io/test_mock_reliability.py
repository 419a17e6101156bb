"""Reliability of the mock under clients that leave, close, flood and misbehave: the replay hang,
nothing after a Close, strict handshakes, fragment floods, parked timelines, graceful stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
