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
import urllib.request
from pathlib import Path

import pytest

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
    assert "harness replay --speed 10" in install_and_replay
    test_command = install_and_test.split("&&")[-1].strip()
    assert test_command == "nox -s tests"
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _lines(stream: object, sink: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.put(line)


def _wait_for_curl(output: queue.Queue[str], seen: list[str]) -> str:
    while True:
        try:
            line = output.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            pytest.fail("harness replay printed no curl line:\n" + "".join(seen))
        seen.append(line)
        if line.strip().startswith("try:"):
            return line.split("try:", 1)[1].strip()


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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell and signals")
def test_quick_start_installs_and_replays_the_bundled_recording(tmp_path: Path) -> None:
    # Given a fresh virtual environment whose bin/ comes first on PATH
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    # When the first quick-start command runs as written
    process = subprocess.Popen(
        ["bash", "-c", quick_start_commands()[0]],
        cwd=ROOT,
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
        # Then it prints a curl that gets a WebSocket token from the running mock
        answer = _run_curl(_wait_for_curl(output, seen))
        assert answer["status"] == 200
        result = answer["result"]
        assert isinstance(result, list)
        assert result[0]["server"].startswith("ws://127.0.0.1:")
        # And Ctrl-C stops it cleanly
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
