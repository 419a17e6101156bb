"""A second signal right after the first never kills a command that is already stopping.

trio redelivers a signal still pending when its receiver closes; without a handler of the
command's own, that signal killed the process (exit 143/130) after a clean shutdown, and left a
recording as ``FILE.partial``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core.safe_output import partial_path
from tests.cli.test_cli_replay_shutdown import EXIT_TIMEOUT_S, POLL_S, READY_TIMEOUT_S, _start

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals"),
    pytest.mark.slow,
]

GAPS_S = (0.0, 0.002, 0.02)
"""Between the two signals: the scenario itself, not a wait for anything."""


def _signal_twice(process: subprocess.Popen[str], signum: int, gap_s: float) -> None:
    process.send_signal(signum)
    time.sleep(gap_s)
    process.send_signal(signum)


@pytest.mark.parametrize("gap_s", GAPS_S)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_replay_exits_0_after_two_quick_signals(
    tmp_path: Path, signum: signal.Signals, gap_s: float
) -> None:
    process, ready, _ = _start(tmp_path)
    _signal_twice(process, signum, gap_s)
    _, err = process.communicate(timeout=EXIT_TIMEOUT_S)
    assert process.returncode == 0, err
    assert "stopped (0 closed, 0 cut)" in err
    assert not ready.exists()


@pytest.mark.parametrize("gap_s", GAPS_S)
def test_record_finishes_its_file_after_two_quick_signals(tmp_path: Path, gap_s: float) -> None:
    upstream, _, details = _start(tmp_path)
    output = tmp_path / "session.msgpack"
    env = {**os.environ, "SOCCERFOOTBALL_API_TOKEN": "a-test-api-token"}
    record = [sys.executable, "-m", "harness", "record", "--quiet", "-o", str(output)]
    process = subprocess.Popen(
        [*record, "--api-base", details["base_url"]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not partial_path(output).exists():  # bounded: the session has started
            assert process.poll() is None, "record ended before it started"
            assert time.monotonic() < deadline, "record never started"
            time.sleep(POLL_S)
        _signal_twice(process, signal.SIGTERM, gap_s)
        _, err = process.communicate(timeout=EXIT_TIMEOUT_S)
    finally:
        for child in (process, upstream):
            if child.poll() is None:
                child.terminate()
            child.communicate(timeout=EXIT_TIMEOUT_S)
    assert process.returncode == 0, err
    assert output.exists()
    assert not partial_path(output).exists()
