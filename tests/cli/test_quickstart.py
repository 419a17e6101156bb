"""The README's two-command quick start works as written on a fresh environment."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 30.0


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the quick start has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands_and_ci_runs_the_test_command() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    install_and_replay, install_and_test = commands
    # Each stands alone on a fresh clone of a stock Debian/Ubuntu Python: a venv, no system pip
    for command in commands:
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install ")
    assert install_and_replay.endswith(".venv/bin/harness replay --speed 10")
    assert install_and_test.endswith(".venv/bin/nox -s tests")
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install_and_test in ci_lines  # CI runs the README's test command itself
    assert any("nox -s lint typecheck" in line for line in ci_lines)


def _lines(stream: object, sink: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.put(line)


def _wait_for(output: queue.Queue[str], seen: list[str], label: str) -> str:
    """The value of the first banner line ``label:  value`` (bounded wait)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            line = output.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"harness replay printed no {label!r} line:\n" + "".join(seen))
        seen.append(line)
        if line.strip().startswith(f"{label}:"):
            return line.split(f"{label}:", 1)[1].strip()


def _run_curl(curl: str) -> dict[str, object]:
    argv = shlex.split(curl)
    if shutil.which("curl"):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
        body = done.stdout
    else:  # the same GET, for machines without curl
        with urllib.request.urlopen(argv[-1], timeout=30) as response:
            body = response.read().decode()
    parsed: dict[str, object] = json.loads(body)
    return parsed


def _fresh_copy(tmp_path: Path) -> Path:
    """The repository as a fresh clone has it: no virtual environments or caches."""
    copy = tmp_path / "clone"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", ".nox", "venv", "__pycache__", ".*_cache"),
    )
    return copy


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell and signals")
def test_quick_start_installs_and_replays_the_bundled_recording(tmp_path: Path) -> None:
    # Given a fresh copy of the repository, the python3 on PATH, and HARNESS_PORT=0 so the
    # replay takes a free port (a user's own replay may hold 8765)
    clone = _fresh_copy(tmp_path)
    env = {**os.environ, "HARNESS_PORT": "0"}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    # When the first quick-start command runs exactly as written
    process = subprocess.Popen(
        ["bash", "-c", quick_start_commands()[0]],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, output), daemon=True).start()
    seen: list[str] = []
    try:
        base_url = _wait_for(output, seen, "API base URL")
        port = int(base_url.rsplit(":", 1)[1])
        # Then it serves on the free port it names, and its curl gets a WebSocket token
        assert port not in (0, 8765)
        answer = _run_curl(_wait_for(output, seen, "try"))
        assert answer["status"] == 200
        result = answer["result"]
        assert isinstance(result, list)
        assert result[0]["server"].startswith(f"ws://127.0.0.1:{port}/?token=")
        assert (clone / ".venv" / "bin" / "harness").exists()
        # And Ctrl-C stops it cleanly
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0, "".join(seen)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
